// Built-in equivalent of jslib.k6.io/k6-summary (any version): textSummary and jUnit.
const n = globalThis.__brunt_native('k6');

export function textSummary(data, options) {
  const o = options || {};
  return n.textSummary(JSON.stringify(data), o.indent === undefined ? ' ' : String(o.indent), !!o.enableColors);
}

function escapeXml(s) {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

// One JUnit test case per threshold, failed when the threshold failed.
export function jUnit(data, options) {
  const o = options || {};
  const cases = [];
  let failures = 0;
  for (const name of Object.keys(data.metrics || {})) {
    const th = data.metrics[name].thresholds || {};
    for (const expr of Object.keys(th)) {
      const caseName = escapeXml(`${name} - ${expr}`);
      if (th[expr].ok) {
        cases.push(`<testcase name="${caseName}" />`);
      } else {
        failures++;
        cases.push(`<testcase name="${caseName}"><failure message="failed" /></testcase>`);
      }
    }
  }
  const suite = escapeXml(o.name || 'k6 thresholds');
  const cls = o.classname ? ` classname="${escapeXml(o.classname)}"` : '';
  return `<?xml version="1.0"?>\n<testsuites tests="${cases.length}" failures="${failures}">\n` +
    `<testsuite name="${suite}"${cls} tests="${cases.length}" failures="${failures}">${cases.join('\n')}\n</testsuite>\n</testsuites>`;
}

export default { textSummary, jUnit };

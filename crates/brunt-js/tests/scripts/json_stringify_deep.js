// JSON.stringify (native in brunt) of deeply nested values, called from the top of the VU's stack
// and from deep in the script's own recursion, near QuickJS's stack limit: there it must give the
// text or throw QuickJS's RangeError, never run off the VU's stack. (300 levels from the top: a
// debug build's frames are several times a release build's, which writes 999 levels there.)
import { check } from 'k6';

export const options = { vus: 1, iterations: 1 };

const nest = (n) => { let v = 1; for (let i = 0; i < n; i++) v = i % 2 ? [v] : { v }; return v; };
const text = (n) => { let t = '1'; for (let i = 0; i < n; i++) t = i % 2 ? `[${t}]` : `{"v":${t}}`; return t; };

let limit = 0;
function probe(d) { try { return probe(d + 1); } catch (e) { limit = d; return 0; } }
function at(d, target, f) { return d < target ? at(d + 1, target, f) : f(); }

export default function () {
  const deep = nest(999);
  const want = text(999);
  const shallow = nest(300);
  probe(0);
  const near = [3, 10, 50, 200].map((back) => {
    try { return at(0, limit - back, () => JSON.stringify(deep)) === want ? 'text' : 'other text'; }
    catch (e) { return e instanceof RangeError ? 'RangeError' : String(e); }
  });
  let past;
  try { JSON.stringify(nest(5000)); past = 'no error'; } catch (e) { past = e instanceof RangeError ? 'RangeError' : String(e); }
  check(null, {
    'from the top of the stack: its text': () => JSON.stringify(shallow) === text(300),
    'near the stack limit: its text or a RangeError': () => near.every((o) => o === 'text' || o === 'RangeError'),
    'past 1,000 levels: a RangeError': () => past === 'RangeError',
  });
}

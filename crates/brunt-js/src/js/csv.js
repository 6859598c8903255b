// k6/experimental/csv: rows of a k6/experimental/fs file, all at once into a SharedArray
// (`parse`) or one at a time (`Parser`).
import { SharedArray } from 'k6/data';

const n = globalThis.__brunt_native('csv');
const HANDLE = Symbol.for('brunt.fs.file');

function handleOf(file) {
  const h = file === null || file === undefined ? undefined : file[HANDLE];
  if (h === undefined) {
    throw new TypeError('first argument expected to be a fs.File instance');
  }
  return h;
}

// The options as k6 reads them: absent ones keep their defaults. `why` leads k6's message for
// a fromLine past toLine, which it reports before any other check.
function optionsOf(o, why) {
  const opts = o === undefined || o === null ? {} : Object(o);
  const int = (v) => (v === undefined ? null : Math.trunc(Number(v)) || 0);
  const fromLine = int(opts.fromLine);
  const toLine = int(opts.toLine);
  if (fromLine !== null && toLine !== null && fromLine >= toLine) {
    throw new Error(`${why}; reason: fromLine must be less than or equal to toLine`);
  }
  return {
    delimiter: opts.delimiter === undefined ? ',' : String(opts.delimiter),
    skipFirstLine: Boolean(opts.skipFirstLine),
    fromLine,
    toLine,
    asObjects: Boolean(opts.asObjects),
  };
}

export class Parser {
  #parser;

  constructor(file, options) {
    if (file === undefined || file === null) {
      throw new Error('csv Parser constructor takes at least one non-nil source argument');
    }
    this.#parser = n.parser(handleOf(file), optionsOf(options, 'encountered an error while interpreting Parser options'));
  }

  next() {
    try {
      const value = n.next(this.#parser);
      return Promise.resolve(value === undefined ? { done: true, value: [] } : { done: false, value });
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

export function parse(file, options) {
  const opts = optionsOf(options, 'failed to interpret the provided Parser options');
  const parser = n.parser(handleOf(file), opts);
  const name = `csv.parse.${file.path}.${JSON.stringify(opts)}`;
  const rows = new SharedArray(name, () => {
    const out = [];
    for (let v = n.next(parser); v !== undefined; v = n.next(parser)) out.push(v);
    return out;
  });
  return Promise.resolve(rows);
}

export default { parse, Parser };

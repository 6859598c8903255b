// k6/experimental/csv: parse into a SharedArray and Parser.next(), with k6's options and checks.
import { check } from 'k6';
import { open } from 'k6/experimental/fs';
import csv from 'k6/experimental/csv';

export const options = { iterations: 3, vus: 1, thresholds: { checks: ['rate==1'] } };

const FILE = './data/people.csv';
const rows = await csv.parse(await open(FILE), {});
const objects = await csv.parse(await open(FILE), { asObjects: true });
const window = await csv.parse(await open(FILE), { fromLine: 2, toLine: 3 });
const skipped = await csv.parse(await open(FILE), { skipFirstLine: true });

const parser = new csv.Parser(await open(FILE), { skipFirstLine: true, toLine: 2 });
const streamed = [];
let last;
while (!(last = await parser.next()).done) streamed.push(last.value);

const error = (f) => {
  try {
    f();
    return '';
  } catch (e) {
    return String(e.message);
  }
};
const file = await open(FILE);
const headerAndSkip = error(() => new csv.Parser(file, { asObjects: true, skipFirstLine: true }));
const backwards = error(() => new csv.Parser(file, { fromLine: 3, toLine: 1 }));

export default function () {
  check(rows, {
    'parse gives every record, blank lines skipped': (r) => r.length === 5 && r[0].join() === 'name,age',
    'quoted fields keep their delimiter': (r) => r[2][1] === '4,1',
    'indexing past the end is undefined': (r) => r[5] === undefined,
    'asObjects names fields by the header': () => objects.length === 4 && objects[0].name === 'alice' && objects[0].age === '30',
    'fromLine and toLine bound the records': () => JSON.stringify(Array.from(window)) === '[["bob","4,1"],["carol","5"]]',
    'skipFirstLine': () => skipped.length === 4 && skipped[0][0] === 'alice',
    'Parser.next streams records': () => JSON.stringify(streamed) === '[["alice","30"],["bob","4,1"]]',
    'done result': () => last.done === true && Array.isArray(last.value) && last.value.length === 0,
    'asObjects with skipFirstLine is refused': () => headerAndSkip.includes("'header' option cannot be enabled when 'skipFirstLine' is true"),
    'fromLine past toLine is refused': () => backwards.includes('fromLine must be less than or equal to toLine'),
  });
}

// k6/experimental/fs: open in the init context, stat, read to EOF, seek with k6's rules, and
// k6's `{name, message}` rejections.
import { check } from 'k6';
import { open, SeekMode } from 'k6/experimental/fs';

export const options = { iterations: 2, vus: 1, thresholds: { checks: ['rate==1'] } };

const file = await open('./data/hello.txt');
const info = await file.stat();
const buf = new Uint8Array(4);
const reads = [await file.read(buf), await file.read(buf), await file.read(buf), await file.read(buf)];
const lastBytes = Array.from(buf.subarray(0, 2));
const seeks = [await file.seek(0, SeekMode.End), await file.seek(-3, SeekMode.Current), await file.seek(2, SeekMode.Start)];
const afterSeek = new Uint8Array(3);
await file.read(afterSeek);
const rejection = async (p) => p.then(() => null, (e) => e);
const negative = await rejection(file.seek(-1, SeekMode.Start));
const beyond = await rejection(file.seek(100, SeekMode.Start));
const badMode = await rejection(file.seek(0, 7));
const notArray = await rejection(file.read([1, 2]));
const missing = await rejection(open('./data/missing.txt'));
const directory = await rejection(open('./data'));

export default async function () {
  const forbidden = await rejection(open('./data/hello.txt'));
  check(file, {
    'path is absolute': (f) => f.path.startsWith('/') && f.path.endsWith('/data/hello.txt'),
    'stat names and sizes the file': () => info.name === 'hello.txt' && info.size === 10,
    'reads count bytes, null at EOF': () => reads.join() === '4,4,2,' && reads[3] === null,
    'the last read fills the start': () => String.fromCharCode(...lastBytes) === 's\n',
    'SeekMode': () => SeekMode.Start === 0 && SeekMode.Current === 1 && SeekMode.End === 2,
    'seek returns the offset': () => seeks.join() === '9,6,2',
    'read after seek': () => String.fromCharCode(...afterSeek) === 'llo',
    'negative start is a TypeError': () => negative.name === 'TypeError' && negative.message === 'offset cannot be negative when using SeekModeStart',
    'beyond the end': () => beyond.name === 'TypeError' && beyond.message === 'seeking beyond end of file',
    'bad whence': () => badMode.name === 'TypeError' && /whence/.test(badMode.message),
    'read needs a Uint8Array': () => notArray.name === 'TypeError',
    'missing file': () => missing.name === 'NotFoundError' && missing.message.includes('missing.txt'),
    'directory': () => directory.name === 'InvalidResourceError',
    'open outside init is forbidden': () => forbidden.name === 'ForbiddenError',
  });
}

// k6/experimental/streams' WritableStream, as k6 v2.2 has it (k6 v1.1 lacks it, so k6-compare.py
// skips this script): writes reach the sink one at a time, `ready` waits out backpressure,
// close() and abort() reach the sink, and a failing write errors the stream.
import { WritableStream, WritableStreamDefaultWriter } from 'k6/experimental/streams';
import { setTimeout } from 'k6/timers';
import { check } from 'k6';

export const options = { iterations: 1 };

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default async function () {
  const events = [];
  let concurrent = 0;
  let most = 0;
  const stream = new WritableStream({
    start() { events.push('start'); },
    async write(chunk) {
      concurrent += 1;
      most = Math.max(most, concurrent);
      await delay(5);
      events.push(chunk);
      concurrent -= 1;
    },
    close() { events.push('close'); },
  }, { highWaterMark: 1 });
  const writer = stream.getWriter();
  check(stream, { 'a writer locks the stream': (s) => s.locked });
  const sizes = [];
  const writes = [];
  for (let i = 1; i <= 3; i++) {
    await writer.ready;
    sizes.push(writer.desiredSize);
    writes.push(writer.write(`chunk ${i}`));
  }
  await Promise.all(writes);
  await writer.close();
  await writer.closed;
  check(events, { 'chunks reach the sink in order, then close': (e) => e.join() === 'start,chunk 1,chunk 2,chunk 3,close' });
  check(most, { 'one write at a time': (m) => m === 1 });
  check(sizes, { 'ready waits for room': (s) => s.every((n) => n > 0) });

  let aborted = '';
  const aborting = new WritableStream({ abort(reason) { aborted = reason; } });
  await aborting.abort('stop');
  check(aborted, { 'abort() reaches the sink': (r) => r === 'stop' });

  const failing = new WritableStream({ write() { throw new Error('disk full'); } });
  const w = new WritableStreamDefaultWriter(failing);
  let first = '';
  let later = '';
  try {
    await w.write('a');
  } catch (e) {
    first = e.message;
  }
  try {
    await w.write('b');
  } catch (e) {
    later = e.message;
  }
  check(null, { 'a failed write errors the stream': () => first === 'disk full' && later === 'disk full' });
  let typeError = '';
  try {
    new WritableStream({ type: 'bytes' });
  } catch (e) {
    typeError = e.name;
  }
  check(typeError, { "'type' is a RangeError": (n) => n === 'RangeError' });
}

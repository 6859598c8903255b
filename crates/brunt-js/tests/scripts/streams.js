// k6/experimental/streams (as k6 v1.1 and v2.2 have it): a ReadableStream fed by start() from a
// timer, one fed by pull() under a CountQueuingStrategy, cancel(), errors and the reader's lock.
import { ReadableStream, ReadableStreamDefaultReader, CountQueuingStrategy } from 'k6/experimental/streams';
import { setTimeout } from 'k6/timers';
import { check } from 'k6';

export const options = { iterations: 1 };

async function readAll(reader) {
  const out = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

export default async function () {
  let n = 0;
  const timed = new ReadableStream({
    start(controller) {
      const tick = () => {
        if (n < 3) {
          controller.enqueue(++n);
          setTimeout(tick, 10);
        } else {
          controller.close();
        }
      };
      setTimeout(tick, 10);
    },
  });
  const timedReader = timed.getReader();
  check(timed, { 'a reader locks the stream': (s) => s.locked === true });
  check(await readAll(timedReader), { 'start() chunks arrive in order': (v) => v.join() === '1,2,3' });
  let lockError = '';
  try {
    timed.getReader();
  } catch (e) {
    lockError = e.name;
  }
  check(lockError, { 'a second reader is a TypeError': (e) => e === 'TypeError' });
  timedReader.releaseLock();
  check(timed, { 'releaseLock unlocks': (s) => s.locked === false });

  const sizes = [];
  let pulled = 0;
  const pulling = new ReadableStream({
    pull(controller) {
      sizes.push(controller.desiredSize);
      pulled += 1;
      controller.enqueue(`chunk ${pulled}`);
      if (pulled === 5) controller.close();
    },
  }, new CountQueuingStrategy({ highWaterMark: 2 }));
  await new Promise((resolve) => setTimeout(resolve, 20));
  check(pulled, { 'pull() fills the queue to the high-water mark': (p) => p === 2 });
  const reader = new ReadableStreamDefaultReader(pulling);
  check(await readAll(reader), {
    'pull() chunks arrive in order': (v) => v.length === 5 && v[4] === 'chunk 5',
  });
  check(sizes, { 'desiredSize counts the queue': (s) => s[0] === 2 && s[1] === 1 });
  await reader.closed;

  let cancelled = '';
  const cancelling = new ReadableStream({
    start(controller) { controller.enqueue('x'); },
    cancel(reason) { cancelled = reason; },
  });
  await cancelling.cancel('enough');
  check(cancelled, { 'cancel() reaches the source': (r) => r === 'enough' });
  check(await cancelling.getReader().read(), { 'a cancelled stream is done': (r) => r.done === true });

  const failing = new ReadableStream({ start(controller) { controller.error(new Error('broken')); } });
  let failure = '';
  try {
    await failing.getReader().read();
  } catch (e) {
    failure = e.message;
  }
  check(failure, { 'error() rejects reads': (m) => m === 'broken' });

  let bytes = '';
  try {
    new ReadableStream({ type: 'bytes' });
  } catch (e) {
    bytes = String(e);
  }
  // k6 v1.1 wraps the error as a GoError; its text names the kind in both versions.
  check(bytes, { 'byte streams are not supported': (s) => s.includes('NotSupportedError') });
  let hwm = '';
  try {
    new ReadableStream({}, { highWaterMark: -1 });
  } catch (e) {
    hwm = e.name;
  }
  check(hwm, { 'a negative highWaterMark is a RangeError': (n) => n === 'RangeError' });
}

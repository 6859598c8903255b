// k6/websockets' Blob.stream() (k6/experimental/websockets in k6 v1.1, which has it): a
// ReadableStream of the Blob's bytes read 1024 at a time, each piece a string, then an empty one.
import { Blob } from 'k6/experimental/websockets';
import { check } from 'k6';

export const options = { iterations: 1 };

export default async function () {
  const blob = new Blob(['héllo', 'x'.repeat(1030)]);
  const reader = blob.stream().getReader();
  const pieces = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pieces.push(value);
  }
  check(pieces, {
    'strings of 1024 bytes, then an empty one': (p) =>
      p.map((x) => `${typeof x}:${x.length}`).join(' ') === 'string:1023 string:12 string:0',
    'the text whole': (p) => p.join('') === `héllo${'x'.repeat(1030)}`,
  });
}

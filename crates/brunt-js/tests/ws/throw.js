// With k6's `throw` option a connection that fails is an exception, not an error on the response.
import ws from 'k6/ws';
import { check } from 'k6';

export const options = { iterations: 1, throw: true };

export default function () {
  let err = '';
  try {
    ws.connect('ws://127.0.0.1:1/', () => {});
  } catch (e) {
    err = String(e);
  }
  check(err, { 'throw: a failed connection throws': (e) => e !== '' });
}

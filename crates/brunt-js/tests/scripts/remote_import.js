// A remote import that cannot be fetched and is not cached: a clear error naming the URL. The
// address is a closed loopback port, so neither brunt nor k6 sends anything off the machine.
import lib from 'https://127.0.0.1:1/lib/index.js';

export default function () {
  lib();
}

// A remote import that brunt does not ship: a clear error naming the URL.
import lib from 'https://example.com/lib/index.js';

export default function () {
  lib();
}

// The memory benchmark's script: one request, then a second's sleep.
import http from 'k6/http';
import { sleep } from 'k6';

export default function () {
  http.get(__ENV.BASE_URL || 'http://127.0.0.1:8080/');
  sleep(1);
}

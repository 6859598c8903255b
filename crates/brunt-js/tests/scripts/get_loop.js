// The throughput benchmark's script: http.get in a loop.
import http from 'k6/http';

export default function () {
  http.get(__ENV.BASE_URL || 'http://127.0.0.1:8080/');
}

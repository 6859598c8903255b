// Trace context on gRPC calls: with options.tracing and runIdHeader, every call's metadata
// carries the run's headers as an HTTP request's do (brunt target's hello.Probe/Echo sends back
// the x- metadata it received), and each call's trace stays with its grpc_req_duration sample.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

export const options = {
  iterations: 3,
  tracing: { propagator: 'w3c', sampling: 1 },
  runIdHeader: 'x-load-test-id',
};

const client = new grpc.Client();
client.load(['../../../brunt-target/src/grpc'], 'hello.proto');

export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true });
  const res = client.invoke('hello.Probe/Echo', { message: 'traced' });
  check(res, {
    'the call succeeded': (r) => r.status === grpc.StatusOK,
    'the run id went with the call': (r) => /^[0-9a-f]{32}$/.test((r.headers['x-load-test-id'] || [])[0]),
  });
  client.close();
}

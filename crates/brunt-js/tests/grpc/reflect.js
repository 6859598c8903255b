// k6/net/grpc's connect with reflection (and a protoset): methods found without .proto files;
// a server without reflection is a clear error.
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const client = new grpc.Client();
const fromSet = new grpc.Client();
const setMethods = __ENV.PROTOSET ? fromSet.loadProtoset(__ENV.PROTOSET) : [];

export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: true });
  const r = client.invoke('hello.HelloService/SayHello', { greeting: 'r' });
  check(r, { 'reflection finds the methods': (x) => x.message.reply === 'hello r' });
  client.close();

  if (__ENV.NOREFLECT_ADDR) {
    let err = '';
    try {
      client.connect(__ENV.NOREFLECT_ADDR, { plaintext: true, reflect: true });
    } catch (e) {
      err = e.message;
    }
    check(err, {
      'a server without reflection is named': (e) => e.startsWith("can't list services: rpc error: code = Unimplemented"),
    });
  }
  if (__ENV.PROTOSET) {
    fromSet.connect(__ENV.GRPC_ADDR, { plaintext: true });
    const s = fromSet.invoke('/hello.HelloService/SayHello', { greeting: 'set' });
    check(s, {
      'a protoset lists its methods': () => setMethods.length === 5,
      'a protoset describes the calls': (x) => x.message.reply === 'hello set',
    });
    fromSet.close();
  }
}

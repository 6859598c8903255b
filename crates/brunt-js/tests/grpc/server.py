#!/usr/bin/env python3
"""A gRPC server for the k6/net/grpc tests, on grpcio (an implementation independent of
brunt's), with grpcio-reflection and grpcio-health-checking. No generated code: the messages of
brunt target's hello.proto are described here with protobuf's descriptor_pb2 and served through
generic handlers. Listens on two loopback ports: the first with reflection and health, the
second without reflection; prints "PORT PORT2", then serves until killed. With --protoset PATH
it first writes the services' FileDescriptorSet there (what `protoc --descriptor_set_out` makes).
With --tls DIR it makes a CA, a server certificate for 127.0.0.1 and a client certificate in DIR
with the openssl command (ca.pem; client.pem with client.key, and client-enc.key, the same key
encrypted with AES-256-CBC the legacy OpenSSL way under the password k6-secret), and serves the
first server on a third port too, over TLS, asking for a client certificate of that CA; it
prints that port third (0 when openssl failed).

hello.HelloService: SayHello replies "hello <greeting>"; LotsOfReplies ten times that;
LotsOfGreetings "hello <g1>, <g2>" once the client ends; BidiHello "hello <g>" per greeting.
hello.Probe/Echo: waits delay_ms, fails with status (and message) when not 0, else replies with
message and size bytes of payload; request metadata starting with x- comes back as headers."""
import os
import subprocess
import sys
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

F = descriptor_pb2.FieldDescriptorProto


def file_proto():
    f = descriptor_pb2.FileDescriptorProto(name="hello.proto", package="hello", syntax="proto3")

    def message(name, fields):
        m = f.message_type.add(name=name)
        for i, (fname, ftype, json) in enumerate(fields, start=1):
            m.field.add(name=fname, number=i, type=ftype, label=F.LABEL_OPTIONAL, json_name=json)

    message("HelloRequest", [("greeting", F.TYPE_STRING, "greeting")])
    message("HelloResponse", [("reply", F.TYPE_STRING, "reply")])
    message("EchoRequest", [("message", F.TYPE_STRING, "message"), ("status", F.TYPE_INT32, "status"),
                            ("size", F.TYPE_INT64, "size"), ("delay_ms", F.TYPE_INT32, "delayMs")])
    message("EchoResponse", [("message", F.TYPE_STRING, "message"), ("payload", F.TYPE_BYTES, "payload"),
                             ("size", F.TYPE_INT64, "size")])
    s = f.service.add(name="HelloService")
    for name, cs, ss in [("SayHello", False, False), ("LotsOfReplies", False, True),
                         ("LotsOfGreetings", True, False), ("BidiHello", True, True)]:
        s.method.add(name=name, input_type=".hello.HelloRequest", output_type=".hello.HelloResponse",
                     client_streaming=cs, server_streaming=ss)
    p = f.service.add(name="Probe")
    p.method.add(name="Echo", input_type=".hello.EchoRequest", output_type=".hello.EchoResponse")
    return f


def make_certs(d):
    """The CA, server and client certificates in `d`; the server's credentials, or None."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    def signed(name, key_args, ext):
        run("req", "-newkey", *key_args, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")

    ec = ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    try:
        run("req", "-x509", "-newkey", *ec, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=brunt test CA")
        signed("server", ec, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        signed("client", ["rsa:2048"], "extendedKeyUsage=clientAuth\n")
        run("rsa", "-in", "client.key", "-aes256", "-traditional", "-passout", "pass:k6-secret",
            "-out", "client-enc.key")
    except (OSError, subprocess.CalledProcessError):
        return None
    read = lambda name: open(os.path.join(d, name), "rb").read()
    return grpc.ssl_server_credentials([(read("server.key"), read("server.pem"))],
                                       root_certificates=read("ca.pem"), require_client_auth=True)


def main():
    proto = file_proto()
    opts = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    if "--protoset" in opts:
        with open(opts["--protoset"], "wb") as out:
            out.write(descriptor_pb2.FileDescriptorSet(file=[proto]).SerializeToString())
    # The default pool, where the reflection and health services' own files are too.
    pool = descriptor_pool.Default()
    pool.Add(proto)
    cls = {n: message_factory.GetMessageClass(pool.FindMessageTypeByName("hello." + n))
           for n in ["HelloRequest", "HelloResponse", "EchoRequest", "EchoResponse"]}
    Req, Resp = cls["HelloRequest"], cls["HelloResponse"]

    def say_hello(req, ctx):
        return Resp(reply="hello " + req.greeting)

    def lots_of_replies(req, ctx):
        for _ in range(10):
            yield Resp(reply="hello " + req.greeting)

    def lots_of_greetings(reqs, ctx):
        return Resp(reply="hello " + ", ".join(r.greeting for r in reqs))

    def bidi_hello(reqs, ctx):
        for r in reqs:
            yield Resp(reply="hello " + r.greeting)

    def echo(req, ctx):
        ctx.send_initial_metadata([(k, v) for k, v in ctx.invocation_metadata() if k.startswith("x-")])
        if req.delay_ms > 0:
            time.sleep(min(req.delay_ms, 60000) / 1000)
        if req.status != 0:
            ctx.abort(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == req.status)), req.message)
        return cls["EchoResponse"](message=req.message, payload=b"x" * req.size, size=req.size)

    def handlers(kind, fn, req, resp):
        make = getattr(grpc, kind + "_rpc_method_handler")
        return make(fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString)

    hello = grpc.method_handlers_generic_handler("hello.HelloService", {
        "SayHello": handlers("unary_unary", say_hello, Req, Resp),
        "LotsOfReplies": handlers("unary_stream", lots_of_replies, Req, Resp),
        "LotsOfGreetings": handlers("stream_unary", lots_of_greetings, Req, Resp),
        "BidiHello": handlers("stream_stream", bidi_hello, Req, Resp),
    })
    probe = grpc.method_handlers_generic_handler("hello.Probe", {
        "Echo": handlers("unary_unary", echo, cls["EchoRequest"], cls["EchoResponse"]),
    })

    servers = []
    ports = []
    tls = make_certs(opts["--tls"]) if "--tls" in opts else None
    for with_reflection in [True, False]:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((hello, probe))
        if with_reflection:
            health_servicer = health.HealthServicer()
            health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
            names = ("hello.HelloService", "hello.Probe", reflection.SERVICE_NAME, health.SERVICE_NAME)
            reflection.enable_server_reflection(names, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        if with_reflection and "--tls" in opts:
            tls_port = server.add_secure_port("127.0.0.1:0", tls) if tls else 0
        server.start()
        servers.append(server)
    if "--tls" in opts:
        ports.append(tls_port)
    print(*ports, flush=True)
    servers[0].wait_for_termination()


if __name__ == "__main__":
    main()

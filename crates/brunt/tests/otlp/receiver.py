"""An OTLP metrics receiver for brunt's `--out opentelemetry` tests, on the official definitions
(the `opentelemetry-proto` package; `grpcio` for gRPC). `receiver.py http|grpc FILE` listens on a
free loopback port, prints it, and appends each export it decodes to FILE as one JSON line:
{"headers": {...}, "request": <ExportMetricsServiceRequest as JSON, field names as in the
proto, trace and span ids in hex>}. Exits 3 when a package is missing."""

import json
import sys
import threading

try:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
except ImportError as e:
    print(f"missing: {e}", file=sys.stderr, flush=True)
    sys.exit(3)

mode, path = sys.argv[1], sys.argv[2]
out = open(path, "a", buffering=1)
lock = threading.Lock()


def record(request, headers):
    as_dict = MessageToDict(request, preserving_proto_field_name=True)
    # Exemplar ids as the hex a tracing backend shows, not protobuf JSON's base64.
    data = json.loads(json.dumps(as_dict))
    for rm_d, rm in zip(data.get("resource_metrics", []), request.resource_metrics):
        for sm_d, sm in zip(rm_d.get("scope_metrics", []), rm.scope_metrics):
            for m_d, m in zip(sm_d.get("metrics", []), sm.metrics):
                kind = m.WhichOneof("data")
                points = getattr(m, kind).data_points
                points_d = m_d[kind].get("data_points", [])
                for p_d, p in zip(points_d, points):
                    for e_d, e in zip(p_d.get("exemplars", []), p.exemplars):
                        e_d["trace_id"] = e.trace_id.hex()
                        e_d["span_id"] = e.span_id.hex()
    with lock:
        out.write(json.dumps({"headers": headers, "request": data}) + "\n")


if mode == "http":
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"] or 0))
            ok = self.path == "/v1/metrics" and self.headers["Content-Type"] == "application/x-protobuf"
            if ok:
                req = metrics_service_pb2.ExportMetricsServiceRequest()
                req.ParseFromString(body)
                record(req, {k.lower(): v for k, v in self.headers.items()})
            reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
else:
    from concurrent import futures

    try:
        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    except ImportError as e:
        print(f"missing: {e}", file=sys.stderr, flush=True)
        sys.exit(3)

    class Service(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request, context):
            record(request, {k: v for k, v in context.invocation_metadata()})
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()

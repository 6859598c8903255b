//! The target's gRPC services, called with brunt-grpc's client over loopback: the four call
//! kinds, reflection, health, statuses, metadata and size limits.

use brunt_grpc::client::{ConnectOptions, Connection, StreamEvent};
use brunt_grpc::{json, reflection, Code, Protos, DEFAULT_MAX_RECEIVE};
use std::time::Duration;

fn target() -> brunt_target::Target {
    brunt_target::spawn("127.0.0.1:0".parse().unwrap()).expect("target starts")
}

async fn connect(target: &brunt_target::Target, max_receive: usize) -> Connection {
    let addr = target.local_addr();
    let io = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let opts = ConnectOptions {
        authority: addr.to_string(),
        tls: false,
        user_agent: Some("brunt-test".into()),
        max_receive,
        max_send: 1024 * 1024,
    };
    Connection::handshake(io, opts)
        .await
        .expect("HTTP/2 handshake")
}

fn protos() -> Protos {
    Protos::from_source("hello.proto", brunt_target::GRPC_PROTO).unwrap()
}

fn request(protos: &Protos, method: &str, body: &str) -> brunt_grpc::DynamicMessage {
    let m = protos.method(method).unwrap();
    json::from_json(&m.input(), body).unwrap()
}

#[tokio::test]
async fn unary_calls_answer_with_headers_and_metadata_echoed() {
    let t = target();
    let conn = connect(&t, DEFAULT_MAX_RECEIVE).await;
    let p = protos();
    let m = p.method("hello.HelloService/SayHello").unwrap();
    let req = request(&p, "hello.HelloService/SayHello", r#"{"greeting":"Bert"}"#);
    let r = conn
        .invoke(&m, req, &[], Some(Duration::from_secs(10)))
        .await;
    assert_eq!(r.status, Code::Ok, "{r:?}");
    assert_eq!(
        json::to_json(r.message.as_ref().unwrap())["reply"],
        "hello Bert"
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v[0] == "application/grpc"),
        "{r:?}"
    );

    let m = p.method("hello.Probe/Echo").unwrap();
    let req = request(&p, "hello.Probe/Echo", r#"{"message":"hi","size":"3"}"#);
    let meta = [("x-trace".to_string(), "abc".to_string())];
    let r = conn.invoke(&m, req, &meta, None).await;
    let body = json::to_json(r.message.as_ref().unwrap());
    assert_eq!(body["payload"], "eHh4", "{body}");
    assert_eq!(body["size"], "3", "int64 is a string in protojson: {body}");
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "x-trace" && v == &["abc"]),
        "{r:?}"
    );
}

#[tokio::test]
async fn failures_carry_grpc_go_codes_and_words() {
    let t = target();
    let conn = connect(&t, 100).await;
    let p = protos();
    let echo = p.method("hello.Probe/Echo").unwrap();

    let req = request(&p, "hello.Probe/Echo", r#"{"message":"nope","status":5}"#);
    let r = conn.invoke(&echo, req, &[], None).await;
    assert_eq!(r.status, Code::NotFound);
    assert_eq!(r.error.as_ref().unwrap().message(), "nope");

    // Over the receive limit (100 bytes here).
    let req = request(&p, "hello.Probe/Echo", r#"{"size":"500"}"#);
    let r = conn.invoke(&echo, req, &[], None).await;
    assert_eq!(r.status, Code::ResourceExhausted);
    let msg = r.error.unwrap().message().to_string();
    assert!(
        msg.starts_with("grpc: received message larger than max ("),
        "{msg}"
    );
    assert!(msg.ends_with(" vs. 100)"), "{msg}");

    // Over the send limit (1 MiB): refused before it is sent.
    let big = format!(r#"{{"message":"{}"}}"#, "y".repeat(2 * 1024 * 1024));
    let r = conn
        .invoke(&echo, request(&p, "hello.Probe/Echo", &big), &[], None)
        .await;
    assert_eq!(r.status, Code::ResourceExhausted);
    assert!(r
        .error
        .unwrap()
        .message()
        .starts_with("grpc: trying to send message larger than max"));

    // Past the deadline.
    let req = request(&p, "hello.Probe/Echo", r#"{"delayMs":2000}"#);
    let r = conn
        .invoke(&echo, req, &[], Some(Duration::from_millis(100)))
        .await;
    assert_eq!(r.status, Code::DeadlineExceeded, "{r:?}");

    // A method the server does not have.
    let other = Protos::from_source(
        "x.proto",
        "syntax = \"proto3\"; package hello; message E {} service Nope { rpc Call(E) returns (E); }",
    )
    .unwrap();
    let m = other.method("hello.Nope/Call").unwrap();
    let req = json::from_json(&m.input(), "{}").unwrap();
    let r = conn.invoke(&m, req, &[], None).await;
    assert_eq!(r.status, Code::Unimplemented);
    assert_eq!(r.error.unwrap().message(), "unknown service hello.Nope");
}

#[tokio::test]
async fn streams_of_each_kind_deliver_messages_then_their_end() {
    let t = target();
    let conn = connect(&t, DEFAULT_MAX_RECEIVE).await;
    let p = protos();
    for (method, sent, replies) in [
        (
            "hello.HelloService/LotsOfReplies",
            vec!["a"],
            vec!["hello a"; 10],
        ),
        (
            "hello.HelloService/LotsOfGreetings",
            vec!["a", "b"],
            vec!["hello a, b"],
        ),
        (
            "hello.HelloService/BidiHello",
            vec!["a", "b", "c"],
            vec!["hello a", "hello b", "hello c"],
        ),
    ] {
        let m = p.method(method).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut stream = conn.open_stream(&m, vec![], Some(Duration::from_secs(10)), move |e| {
            let _ = tx.send(e);
        });
        for g in &sent {
            let msg = json::from_json(&m.input(), &format!(r#"{{"greeting":"{g}"}}"#)).unwrap();
            stream.write(msg).unwrap();
        }
        stream.end();
        let mut got = Vec::new();
        loop {
            match rx.recv().await.expect("an end comes") {
                StreamEvent::Message(msg) => {
                    got.push(json::to_json(&msg)["reply"].as_str().unwrap().to_string())
                }
                StreamEvent::End { error, .. } => {
                    assert!(error.is_none(), "{method}: {error:?}");
                    break;
                }
            }
        }
        assert_eq!(got, replies, "{method}");
    }
}

#[tokio::test]
async fn reflection_and_health_describe_the_server() {
    let t = target();
    let conn = connect(&t, DEFAULT_MAX_RECEIVE).await;
    let files = reflection::reflect(&conn, &[])
        .await
        .expect("reflection answers");
    let mut protos = Protos::default();
    protos.add(files).unwrap();
    assert!(protos.method("hello.HelloService/BidiHello").is_some());
    assert!(protos.method("/hello.Probe/Echo").is_some());
    assert_eq!(brunt_grpc::health::check(&conn, "").await.unwrap(), 1);
    assert_eq!(
        brunt_grpc::health::check(&conn, "hello.Probe")
            .await
            .unwrap(),
        1
    );
    let err = brunt_grpc::health::check(&conn, "nope").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

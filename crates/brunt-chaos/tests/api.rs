//! API conformance with Toxiproxy 2.x: paths, methods, status codes, JSON shapes,
//! defaults and error messages.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn version_and_unknown_paths() {
    let (server, _) = start_api(1).await;
    let addr = server.api_addr();
    let (status, head, body) = api(addr, "GET", "/version", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("application/json"));
    assert_eq!(json(&body)["version"], brunt_chaos::VERSION);
    let (status, _, _) = api(addr, "GET", "/nope", "").await;
    assert_eq!(status, 404);
    let (status, _, _) = api(addr, "PUT", "/proxies", "").await;
    assert_eq!(status, 405);
    server.shutdown().await;
}

#[tokio::test]
async fn browsers_are_refused() {
    let (server, _) = start_api(1).await;
    let mut s = tokio::net::TcpStream::connect(server.api_addr())
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        b"GET /proxies HTTP/1.1\r\nhost: x\r\nuser-agent: Mozilla/5.0\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
    assert!(raw.ends_with("User agent not allowed\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn proxy_lifecycle_and_errors() {
    let (server, _) = start_api(1).await;
    let addr = server.api_addr();
    let upstream = echo_server().await;
    let body = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": upstream.to_string()})
        .to_string();

    let (status, head, created) = api(addr, "POST", "/proxies", &body).await;
    assert_eq!(status, 201);
    assert!(head.contains("application/json"));
    let created = json(&created);
    assert_eq!(created["name"], "redis");
    assert_eq!(created["upstream"], upstream.to_string());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    let listen = created["listen"].as_str().unwrap().to_string();
    assert!(
        !listen.ends_with(":0"),
        "port 0 must report the bound port: {listen}"
    );
    // Field order as Toxiproxy writes it.
    let (_, _, raw) = api(addr, "GET", "/proxies/redis", "").await;
    assert!(raw.starts_with("{\"name\":\"redis\",\"listen\":"), "{raw}");
    let (_, _, err) = api(
        addr,
        "POST",
        "/proxies",
        r#"{"name": "np", "listen": "nonsense", "upstream": "x:1"}"#,
    )
    .await;
    assert_eq!(
        json(&err)["error"],
        "listen tcp: address nonsense: missing port in address"
    );

    // Errors: exact messages, status in body, plain-text content type like Go's http.Error.
    let (status, head, err) = api(addr, "POST", "/proxies", &body).await;
    assert_eq!(status, 409);
    assert!(head.contains("text/plain"));
    assert_eq!(err, "{\"error\":\"proxy already exists\",\"status\":409}\n");
    let (status, _, err) = api(addr, "POST", "/proxies", r#"{"upstream": "x:1"}"#).await;
    assert_eq!(
        (status, json(&err)),
        (
            400,
            json!({"error": "missing required field: name", "status": 400})
        )
    );
    let (status, _, err) = api(addr, "POST", "/proxies", r#"{"name": "x"}"#).await;
    assert_eq!(
        (status, json(&err)["error"].as_str().unwrap()),
        (400, "missing required field: upstream")
    );
    let (status, _, err) = api(addr, "POST", "/proxies", "{not json").await;
    assert_eq!(status, 400);
    assert!(json(&err)["error"]
        .as_str()
        .unwrap()
        .starts_with("bad request body: "));
    let busy = json!({"name": "busy", "listen": listen, "upstream": "127.0.0.1:1"}).to_string();
    let (status, _, err) = api(addr, "POST", "/proxies", &busy).await;
    assert_eq!(status, 500);
    assert_eq!(
        json(&err)["error"],
        format!("listen tcp {listen}: bind: address already in use")
    );
    let (status, _, err) = api(addr, "GET", "/proxies/missing", "").await;
    assert_eq!(
        (status, json(&err)),
        (404, json!({"error": "proxy not found", "status": 404}))
    );

    // Index is a map by name.
    let (status, _, all) = api(addr, "GET", "/proxies", "").await;
    assert_eq!(status, 200);
    assert_eq!(json(&all)["redis"]["listen"], listen.as_str());

    // Update with PATCH and with the deprecated POST.
    let (status, _, updated) = api(addr, "PATCH", "/proxies/redis", r#"{"enabled": false}"#).await;
    assert_eq!(
        (status, json(&updated)["enabled"].clone()),
        (200, json!(false))
    );
    assert!(
        tokio::net::TcpStream::connect(&listen).await.is_err(),
        "disabled proxy must refuse"
    );
    let (status, _, updated) = api(addr, "POST", "/proxies/redis", r#"{"enabled": true}"#).await;
    assert_eq!(
        (status, json(&updated)["enabled"].clone()),
        (200, json!(true))
    );
    assert_eq!(
        json(&updated)["listen"],
        listen.as_str(),
        "same listen address after re-enable"
    );
    let (status, _, _) = api(addr, "PATCH", "/proxies/missing", "{}").await;
    assert_eq!(status, 404);
    let (status, _, _) = api(addr, "PATCH", "/proxies/redis", "[").await;
    assert_eq!(status, 400);

    let (status, _, body) = api(addr, "DELETE", "/proxies/redis", "").await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, _, _) = api(addr, "DELETE", "/proxies/redis", "").await;
    assert_eq!(status, 404);
    assert!(
        tokio::net::TcpStream::connect(&listen).await.is_err(),
        "deleted proxy must stop listening"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn toxic_endpoints_defaults_and_errors() {
    let (server, client) = start_api(1).await;
    let addr = server.api_addr();
    proxy(&client, "db", echo_server().await).await;

    let (status, _, t) = api(
        addr,
        "POST",
        "/proxies/db/toxics",
        r#"{"type": "latency", "attributes": {"latency": 100}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        json(&t),
        json!({"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1,
               "attributes": {"latency": 100, "jitter": 0}})
    );
    let (status, _, t) = api(
        addr,
        "POST",
        "/proxies/db/toxics",
        r#"{"name": "cut", "type": "limit_data", "stream": "upstream", "toxicity": 0.5, "attributes": {"bytes": 10}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&t)["toxicity"], json!(0.5));

    let cases = [
        (
            r#"{"type": "latency", "stream": "sideways"}"#,
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (r#"{"type": "bogus"}"#, 400, "invalid toxic type"),
        (r#"{"type": "latency"}"#, 409, "toxic already exists"),
        (
            r#"{"type": "latency", "name": "x", "attributes": {"latency": "slow"}}"#,
            400,
            "",
        ),
        (
            r#"{"type": "http_status", "name": "y", "attributes": {"status": 42}}"#,
            400,
            "",
        ),
        ("nope", 400, ""),
    ];
    for (body, want_status, want_msg) in cases {
        let (status, _, err) = api(addr, "POST", "/proxies/db/toxics", body).await;
        let err = json(&err);
        assert_eq!(status, want_status, "{body}: {err}");
        assert_eq!(err["status"], want_status);
        let msg = err["error"].as_str().unwrap();
        if want_msg.is_empty() {
            assert!(msg.starts_with("bad request body: "), "{body}: {msg}");
        } else {
            assert_eq!(msg, want_msg, "{body}");
        }
    }
    let (status, _, _) = api(
        addr,
        "POST",
        "/proxies/none/toxics",
        r#"{"type": "latency"}"#,
    )
    .await;
    assert_eq!(status, 404);

    // Index lists upstream toxics first.
    let (_, _, list) = api(addr, "GET", "/proxies/db/toxics", "").await;
    let names: Vec<_> = json(&list)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("cut"), json!("latency_downstream")]);
    let (status, _, t) = api(addr, "GET", "/proxies/db/toxics/cut", "").await;
    assert_eq!(
        (status, json(&t)["attributes"]["bytes"].clone()),
        (200, json!(10))
    );
    let (status, _, err) = api(addr, "GET", "/proxies/db/toxics/none", "").await;
    assert_eq!(
        (status, json(&err)),
        (404, json!({"error": "toxic not found", "status": 404}))
    );

    // Update merges attributes and keeps toxicity unless given.
    let (status, _, t) = api(
        addr,
        "PATCH",
        "/proxies/db/toxics/latency_downstream",
        r#"{"attributes": {"jitter": 5}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&t)["attributes"], json!({"latency": 100, "jitter": 5}));
    assert_eq!(json(&t)["toxicity"], json!(1));
    let (status, _, t) = api(
        addr,
        "POST",
        "/proxies/db/toxics/latency_downstream",
        r#"{"toxicity": 0.25}"#,
    )
    .await;
    assert_eq!((status, json(&t)["toxicity"].clone()), (200, json!(0.25)));
    let (status, _, _) = api(addr, "PATCH", "/proxies/db/toxics/none", "{}").await;
    assert_eq!(status, 404);

    // Proxy JSON embeds toxics.
    let p = client.proxy("db").await.unwrap();
    assert_eq!(p.toxics.len(), 2);

    let (status, _, _) = api(addr, "DELETE", "/proxies/db/toxics/cut", "").await;
    assert_eq!(status, 204);
    let (status, _, _) = api(addr, "DELETE", "/proxies/db/toxics/cut", "").await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn populate_creates_keeps_and_replaces() {
    let (server, client) = start_api(1).await;
    let addr = server.api_addr();
    let a = echo_server().await;
    let b = echo_server().await;
    let listen = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let body = json!([{"name": "one", "listen": listen, "upstream": a.to_string()},
                      {"name": "two", "listen": "127.0.0.1:0", "upstream": a.to_string(), "enabled": false}])
    .to_string();
    let (status, _, out) = api(addr, "POST", "/populate", &body).await;
    assert_eq!(status, 201);
    let out = json(&out);
    assert_eq!(out["proxies"].as_array().unwrap().len(), 2);
    assert_eq!(out["proxies"][1]["enabled"], false);
    assert!(out.get("error").is_none());

    // Same listen and upstream: kept, toxics and all.
    toxic(
        &client,
        "one",
        "latency",
        "downstream",
        json!({"latency": 1}),
    )
    .await;
    let body = json!([{"name": "one", "listen": listen, "upstream": a.to_string()}]).to_string();
    let (status, _, out) = api(addr, "POST", "/populate", &body).await;
    assert_eq!(status, 201);
    assert_eq!(
        json(&out)["proxies"][0]["toxics"].as_array().unwrap().len(),
        1
    );

    // Different upstream: replaced by a fresh proxy.
    let body = json!([{"name": "one", "listen": listen, "upstream": b.to_string()}]).to_string();
    let (_, _, out) = api(addr, "POST", "/populate", &body).await;
    let out = json(&out);
    assert_eq!(out["proxies"][0]["upstream"], b.to_string());
    assert_eq!(out["proxies"][0]["toxics"], json!([]));

    // Validation happens before anything is created.
    let body = json!([{"name": "three", "upstream": a.to_string()}, {"upstream": a.to_string()}])
        .to_string();
    let (status, _, out) = api(addr, "POST", "/populate", &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        json(&out),
        json!({"error": "missing required field: name at proxy 2", "status": 400, "proxies": null})
    );
    assert!(client.proxy("three").await.is_err());
    let (status, _, out) = api(addr, "POST", "/populate", r#"{"name": "x"}"#).await;
    assert_eq!(status, 400);
    assert!(json(&out)["error"]
        .as_str()
        .unwrap()
        .starts_with("bad request body"));
    let (status, _, out) = api(addr, "POST", "/populate", "[]").await;
    assert_eq!((status, json(&out)), (201, json!({"proxies": null})));
    server.shutdown().await;
}

#[tokio::test]
async fn reset_enables_all_and_removes_toxics() {
    let (server, client) = start_api(1).await;
    proxy(&client, "p", echo_server().await).await;
    toxic(&client, "p", "latency", "upstream", json!({"latency": 10})).await;
    client
        .update_proxy(
            "p",
            &brunt_chaos::client::ProxyChanges {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _, body) = api(server.api_addr(), "POST", "/reset", "").await;
    assert_eq!((status, body.as_str()), (204, ""));
    let p = client.proxy("p").await.unwrap();
    assert!(p.enabled);
    assert!(p.toxics.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_count_bytes_per_direction() {
    let (server, _client, listen) = start_proxy(1, "m", echo_server().await).await;
    let mut s = tokio::net::TcpStream::connect(listen).await.unwrap();
    round_trip(&mut s, &[7u8; 1000]).await;
    drop(s);
    let (status, head, text) = api(server.api_addr(), "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/plain"));
    for line in [
        format!("toxiproxy_proxy_received_bytes_total{{direction=\"upstream\",listener=\"{listen}\",proxy=\"m\","),
        format!("toxiproxy_proxy_sent_bytes_total{{direction=\"downstream\",listener=\"{listen}\",proxy=\"m\","),
    ] {
        let found = text.lines().find(|l| l.starts_with(&line)).unwrap_or_else(|| panic!("{line} in {text}"));
        assert!(found.ends_with(" 1000"), "{found}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn config_file_creates_proxies_with_toxics_and_bad_files_name_the_place() {
    let (server, client) = start_api(1).await;
    let up = echo_server().await;
    let dir = std::env::temp_dir().join(format!("brunt-chaos-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        json!([{"name": "cfg", "listen": "127.0.0.1:0", "upstream": up.to_string(),
                "toxics": [{"type": "latency", "attributes": {"latency": 150}}]}])
        .to_string(),
    )
    .unwrap();
    assert_eq!(server.load_config(&good).await.unwrap(), 1);
    let p = client.proxy("cfg").await.unwrap();
    assert_eq!(p.toxics[0].attributes["latency"], 150);
    let mut s = tokio::net::TcpStream::connect(&p.listen).await.unwrap();
    assert!(round_trip(&mut s, b"hi").await >= std::time::Duration::from_millis(150));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[\n  {\"name\": \"x\",\n  }\n]").unwrap();
    let e = server.load_config(&bad).await.unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("line 3"), "{e}");
    let bad_toxic = dir.join("bad_toxic.json");
    std::fs::write(
        &bad_toxic,
        json!([{"name": "cfg2", "listen": "127.0.0.1:0", "upstream": up.to_string(), "toxics": [{"type": "nope"}]}]).to_string(),
    )
    .unwrap();
    let e = server
        .load_config(&bad_toxic)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad_toxic.json") && e.contains("invalid toxic type"),
        "{e}"
    );
    let e = server
        .load_config(&dir.join("missing.json"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    server.shutdown().await;
}

/// Creates a proxy from a raw JSON body; returns the status and the parsed answer.
async fn create_raw(
    addr: std::net::SocketAddr,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let (status, _, out) = api(addr, "POST", "/proxies", &body.to_string()).await;
    (status, json(&out))
}

#[tokio::test]
async fn listen_takes_go_host_port_forms_and_an_omitted_one_is_loopback() {
    let (server, _) = start_api(1).await;
    let addr = server.api_addr();
    let up = echo_server().await.to_string();

    // Go's forms: an empty host is every interface, a name resolves (IPv4 first).
    let mut cases = vec![
        ("any", Some(":0"), "[::]:"),
        ("local", Some("localhost:0"), "127.0.0.1:"),
        // Omitted: loopback on a free port, where Toxiproxy would open every interface.
        ("omitted", None, "127.0.0.1:"),
    ];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        cases.push(("v6", Some("[::1]:0"), "[::1]:"));
    }
    for (name, listen, bound) in cases {
        let mut body = json!({"name": name, "upstream": up});
        if let Some(listen) = listen {
            body["listen"] = json!(listen);
        }
        let (status, p) = create_raw(addr, body).await;
        assert_eq!(status, 201, "{name}: {p}");
        let reported = p["listen"].as_str().unwrap();
        // A host without IPv6 binds an empty host on 0.0.0.0, as Go does.
        let bound_ok =
            reported.starts_with(bound) || (bound == "[::]:" && reported.starts_with("0.0.0.0:"));
        assert!(bound_ok, "{name}: listen {reported}, want {bound}PORT");
        let port: u16 = reported.rsplit(':').next().unwrap().parse().unwrap();
        assert_ne!(port, 0, "{name}: the bound port is reported");
        let target = match name {
            "v6" => format!("[::1]:{port}"),
            _ => format!("127.0.0.1:{port}"),
        };
        let mut s = tokio::net::TcpStream::connect(&target).await.unwrap();
        round_trip(&mut s, b"ping").await;
    }

    // A bind error names the resolved address, as Go's does.
    let (_, p) = create_raw(
        addr,
        json!({"name": "first", "listen": "localhost:0", "upstream": up}),
    )
    .await;
    let port = p["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let (status, err) = create_raw(
        addr,
        json!({"name": "second", "listen": format!("localhost:{port}"), "upstream": up}),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str().unwrap()),
        (
            500,
            format!("listen tcp 127.0.0.1:{port}: bind: address already in use").as_str()
        )
    );
    let (status, err) = create_raw(
        addr,
        json!({"name": "x", "listen": ":99999", "upstream": up}),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str().unwrap()),
        (500, "listen tcp: address 99999: invalid port")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn out_of_range_toxicity_and_negative_attributes_are_refused_naming_the_field() {
    let (server, client) = start_api(1).await;
    let addr = server.api_addr();
    proxy(&client, "db", echo_server().await).await;

    let refused = [
        (
            json!({"type": "latency", "toxicity": 7}),
            "toxicity must be between 0 and 1, got 7",
        ),
        (
            json!({"type": "latency", "toxicity": -1}),
            "toxicity must be between 0 and 1, got -1",
        ),
        (
            json!({"type": "latency", "attributes": {"latency": -5}}),
            "attributes.latency must not be negative, got -5",
        ),
        (
            json!({"type": "loss_rate", "attributes": {"rate": 1.5}}),
            "attributes.rate must be between 0 and 1, got 1.5",
        ),
    ];
    for (body, message) in refused {
        let (status, _, err) = api(addr, "POST", "/proxies/db/toxics", &body.to_string()).await;
        assert_eq!(
            (status, json(&err)),
            (
                400,
                json!({"error": format!("bad request body: {message}"), "status": 400})
            ),
            "{body}"
        );
    }
    // Every attribute that counts time, bytes or a rate, in every toxic.
    let attributes = [
        ("latency", "jitter"),
        ("bandwidth", "rate"),
        ("slow_close", "delay"),
        ("timeout", "timeout"),
        ("reset_peer", "timeout"),
        ("slicer", "average_size"),
        ("slicer", "size_variation"),
        ("slicer", "delay"),
        ("limit_data", "bytes"),
        ("loss_rate", "rate"),
        ("slow_connect", "delay"),
        ("slow_connect", "jitter"),
        ("http_latency", "latency"),
        ("http_latency", "jitter"),
        ("http_reset", "after_bytes"),
        ("http_status", "retry_after"),
    ];
    for (kind, attribute) in attributes {
        let body = json!({"type": kind, "attributes": {attribute: -1}}).to_string();
        let (status, _, err) = api(addr, "POST", "/proxies/db/toxics", &body).await;
        let message = json(&err)["error"].as_str().unwrap().to_string();
        assert_eq!(status, 400, "{body}: {message}");
        assert!(
            message.contains(&format!("attributes.{attribute}")),
            "{body}: {message}"
        );
    }
    let (_, _, list) = api(addr, "GET", "/proxies/db/toxics", "").await;
    assert_eq!(json(&list), json!([]), "nothing refused was added");

    // Updates are checked too, and a refused one changes nothing.
    toxic(
        &client,
        "db",
        "latency",
        "downstream",
        json!({"latency": 10}),
    )
    .await;
    for body in [r#"{"toxicity": 1.5}"#, r#"{"attributes": {"latency": -1}}"#] {
        let (status, _, _) =
            api(addr, "PATCH", "/proxies/db/toxics/latency_downstream", body).await;
        assert_eq!(status, 400, "{body}");
    }
    let (_, _, t) = api(addr, "GET", "/proxies/db/toxics/latency_downstream", "").await;
    assert_eq!(
        (
            json(&t)["toxicity"].clone(),
            json(&t)["attributes"]["latency"].clone()
        ),
        (json!(1), json!(10))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_too_large_body_gets_the_json_error_shape() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _) = start_api(1).await;
    let body = vec![b' '; 3 * 1024 * 1024];
    let mut s = tokio::net::TcpStream::connect(server.api_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /populate HTTP/1.1\r\nhost: api\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (mut r, mut w) = s.split();
    let send = async {
        // The server may answer and close before reading it all.
        let _ = w.write_all(head.as_bytes()).await;
        let _ = w.write_all(&body).await;
    };
    let mut raw = Vec::new();
    let read = r.read_to_end(&mut raw);
    let (_, read) = tokio::time::timeout(LIMIT, async { tokio::join!(send, read) })
        .await
        .unwrap();
    read.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, out) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(
        json(out),
        json!({"error": "request body is larger than 2097152 bytes", "status": 413})
    );
    server.shutdown().await;
}

/// The `X-Toxiproxy-Request-Id` value of a response head.
fn request_id(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-toxiproxy-request-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no X-Toxiproxy-Request-Id in {head}"))
}

#[tokio::test]
async fn every_response_carries_a_fresh_request_id() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _) = start_api(1).await;
    let addr = server.api_addr();
    let mut heads = Vec::new();
    for (method, path, want) in [
        ("GET", "/version", 200),
        ("GET", "/version", 200),
        ("GET", "/proxies/none", 404),
        ("GET", "/nope", 404),
        ("PUT", "/proxies", 405),
        ("POST", "/proxies", 400),
    ] {
        let (status, head, _) = api(addr, method, path, "").await;
        assert_eq!(status, want, "{method} {path}");
        heads.push(head);
    }
    // Refused browsers too.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /proxies HTTP/1.1\r\nhost: x\r\nuser-agent: Mozilla/5.0\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = String::new();
    tokio::time::timeout(LIMIT, s.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    heads.push(raw.split_once("\r\n\r\n").unwrap().0.to_string());

    let ids: Vec<String> = heads.iter().map(|h| request_id(h)).collect();
    for id in &ids {
        // An xid: 20 characters of lower-case base32hex.
        assert!(
            id.len() == 20 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'v')),
            "{id}"
        );
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_include_the_standard_process_families() {
    let (server, _) = start_api(1).await;
    let (_, _, text) = api(server.api_addr(), "GET", "/metrics", "").await;
    let value = |name: &str| -> f64 {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in {text}"
        );
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .parse()
            .unwrap()
    };
    assert!(value("process_cpu_seconds_total") >= 0.0);
    assert!(value("process_resident_memory_bytes") > 0.0);
    assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
    let open = value("process_open_fds");
    assert!(open > 0.0 && open <= value("process_max_fds"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!(
        started > 1.0e9 && started <= now + 1.0,
        "{started} vs {now}"
    );
    // brunt is not a Go program: no Go runtime figures, real or made up.
    assert!(!text.lines().any(|l| l.starts_with("go_")), "{text}");
    server.shutdown().await;
}

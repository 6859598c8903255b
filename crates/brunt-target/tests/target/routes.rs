//! Every route of the target, over loopback, as load tests and scripts use them.

use std::time::{Duration, Instant};

use crate::client::{call, get, get_h2, request, Connection};
use http::{Method, StatusCode};
use serde_json::json;

fn target() -> brunt_target::Target {
    brunt_target::spawn("127.0.0.1:0".parse().unwrap()).expect("target starts")
}

#[tokio::test]
async fn root_and_json_are_small_static_answers() {
    let target = target();
    let root = get(target.local_addr(), "/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.body, "hello world\n");
    assert!(root.header("content-type").starts_with("text/plain"));

    let doc = get(target.local_addr(), "/json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.header("content-type"), "application/json");
    assert_eq!(doc.json()["status"], "ok");
}

#[tokio::test]
async fn html_is_a_page_for_html_scripts() {
    let target = target();
    let page = get(target.local_addr(), "/html").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    let body = std::str::from_utf8(&page.body).expect("UTF-8 page");
    assert!(body.contains("<title>brunt target</title>"));
    assert!(body.contains("<form id=\"login\""));
}

#[tokio::test]
async fn status_answers_the_code_asked_for() {
    let target = target();
    let addr = target.local_addr();
    for code in [200u16, 201, 204, 301, 404, 500, 503, 599] {
        let answer = call(addr, Method::POST, &format!("/status/{code}"), &[], "x").await;
        assert_eq!(answer.status.as_u16(), code);
    }
    let weighted = get(addr, "/status/500:1,200:0").await;
    assert_eq!(weighted.status, StatusCode::INTERNAL_SERVER_ERROR);
    let limited = get(addr, "/status/429").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), "1");
    for bad in ["/status/100", "/status/600", "/status/abc", "/status/-1"] {
        let answer = get(addr, bad).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("/status/"));
    }
}

#[tokio::test]
async fn delay_answers_no_sooner_than_asked() {
    let target = target();
    let started = Instant::now();
    let answer = get(target.local_addr(), "/delay/30").await;
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"delay_ms": 30}));
    for bad in ["/delay/60001", "/delay/soon", "/delay/1.5"] {
        assert_eq!(
            get(target.local_addr(), bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn bytes_sends_exactly_n_bytes_up_to_the_cap() {
    let target = target();
    let addr = target.local_addr();
    for n in [0usize, 1, 1000, 10 * 1024 * 1024] {
        let answer = get(addr, &format!("/bytes/{n}")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.len(), n);
        assert_eq!(answer.header("content-type"), "application/octet-stream");
    }
    assert_eq!(
        get(addr, "/bytes/10485761").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn anything_echoes_the_request() {
    let target = target();
    let answer = call(
        target.local_addr(),
        Method::PUT,
        "/anything/deep/path?a=1&a=2&b=x%20y",
        &[("content-type", "application/json"), ("x-trace", "t1")],
        r#"{"n": 5}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let echo = answer.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/anything/deep/path");
    assert_eq!(echo["args"], json!({"a": ["1", "2"], "b": "x y"}));
    assert_eq!(echo["headers"]["X-Trace"], "t1");
    assert_eq!(echo["data"], r#"{"n": 5}"#);
    assert_eq!(echo["json"], json!({"n": 5}));
    assert_eq!(echo["origin"], "127.0.0.1");
    let url = format!(
        "http://{}/anything/deep/path?a=1&a=2&b=x%20y",
        target.local_addr()
    );
    assert_eq!(echo["url"], url);
}

#[tokio::test]
async fn method_echoes_parse_forms_and_refuse_other_methods() {
    let target = target();
    let addr = target.local_addr();
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let posted = call(addr, Method::POST, "/post", &form, "user=ann&tag=a&tag=b").await;
    assert_eq!(posted.status, StatusCode::OK);
    assert_eq!(
        posted.json()["form"],
        json!({"user": "ann", "tag": ["a", "b"]})
    );
    assert_eq!(posted.json()["json"], serde_json::Value::Null);

    let got = get(addr, "/get?q=1").await.json();
    assert_eq!(got["args"], json!({"q": "1"}));
    assert!(
        got.get("data").is_none(),
        "/get shows no body fields: {got}"
    );

    let wrong = call(addr, Method::POST, "/get", &[], "").await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.header("allow"), "GET, HEAD");
    for (method, path) in [
        (Method::GET, "/post"),
        (Method::POST, "/put"),
        (Method::GET, "/delete"),
    ] {
        assert_eq!(
            call(addr, method, path, &[], "").await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}

#[tokio::test]
async fn headers_echoes_request_headers() {
    let target = target();
    let answer = call(
        target.local_addr(),
        Method::GET,
        "/headers",
        &[("x-a", "1")],
        "",
    )
    .await;
    let headers = &answer.json()["headers"];
    assert_eq!(headers["X-A"], "1");
    assert_eq!(headers["Host"], target.local_addr().to_string());
}

#[tokio::test]
async fn redirects_count_down_to_get() {
    let target = target();
    let addr = target.local_addr();
    let mut path = "/redirect/3".to_owned();
    let mut hops = 0;
    while path != "/get" {
        let answer = get(addr, &path).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{path}");
        path = answer.header("location").to_owned();
        hops += 1;
    }
    assert_eq!(hops, 3);
    assert_eq!(
        get(addr, "/redirect/0").await.status,
        StatusCode::BAD_REQUEST
    );

    let to = get(
        addr,
        "/redirect-to?url=http%3A%2F%2Fexample.test%2Fx&status_code=307",
    )
    .await;
    assert_eq!(to.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(to.header("location"), "http://example.test/x");
    assert_eq!(
        get(addr, "/redirect-to?url=/get&status_code=200")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(addr, "/redirect-to").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cookies_are_set_echoed_and_deleted() {
    let target = target();
    let addr = target.local_addr();
    let set = get(addr, "/cookies/set?a=1&b=two").await;
    assert_eq!(set.status, StatusCode::FOUND);
    assert_eq!(set.header("location"), "/cookies");
    let cookies: Vec<_> = set
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=two; Path=/"]);

    let echoed = call(
        addr,
        Method::GET,
        "/cookies",
        &[("cookie", "a=1; b=two")],
        "",
    )
    .await;
    assert_eq!(echoed.json(), json!({"cookies": {"a": "1", "b": "two"}}));
    assert_eq!(get(addr, "/cookies").await.json(), json!({"cookies": {}}));

    let deleted = get(addr, "/cookies/delete?a").await;
    assert_eq!(deleted.status, StatusCode::FOUND);
    assert!(deleted
        .header("set-cookie")
        .starts_with("a=; Expires=Thu, 01 Jan 1970"));
}

#[tokio::test]
async fn auth_token_answers_get_and_post() {
    let target = target();
    let addr = target.local_addr();
    for method in [Method::GET, Method::POST] {
        let answer = call(addr, method, "/auth/token", &[], "user=a").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.json()["access_token"].is_string());
    }
    assert_eq!(
        call(addr, Method::PUT, "/auth/token", &[], "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn orders_are_created_and_read_back() {
    let target = target();
    let addr = target.local_addr();
    let created = call(
        addr,
        Method::POST,
        "/api/orders",
        &[],
        r#"{"item": "tea", "qty": 2}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let order = created.json();
    let id = order["id"].as_str().expect("an id").to_owned();
    assert_eq!(order["order"], json!({"item": "tea", "qty": 2}));

    let second = call(addr, Method::POST, "/api/orders", &[], "[1]")
        .await
        .json();
    assert_ne!(second["id"], order["id"]);

    let read = get(addr, &format!("/api/orders/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json(), order);

    assert_eq!(
        get(addr, "/api/orders/ord-999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, "/api/orders/nonsense").await.status,
        StatusCode::NOT_FOUND
    );
    let bad = call(addr, Method::POST, "/api/orders", &[], "{not json").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("not JSON"));
    assert_eq!(
        get(addr, "/api/orders").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn stall_holds_every_route_of_that_server_only() {
    const STALL: Duration = Duration::from_millis(1200);
    let other = target();
    let target = target();
    let addr = target.local_addr();
    let asked = Instant::now();
    let stall = tokio::spawn(async move { get(addr, "/stall?ms=1200").await });
    // Give the stall time to begin before the requests it must hold.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let unaffected = get(other.local_addr(), "/").await;
    assert_eq!(unaffected.status, StatusCode::OK);
    assert!(
        !stall.is_finished(),
        "another server answered without waiting"
    );

    let held = get(addr, "/json").await;
    assert_eq!(held.status, StatusCode::OK);
    assert!(asked.elapsed() >= STALL, "/json answered during the stall");
    let stall = stall.await.unwrap();
    assert_eq!(stall.json(), json!({"stalled_ms": 1200}));

    for bad in ["/stall", "/stall?ms=x", "/stall?ms=60001"] {
        assert_eq!(
            get(addr, bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_huge_bodies_413() {
    let target = target();
    let addr = target.local_addr();
    for path in ["/nope", "/status", "/status/200/extra", "/json/x"] {
        assert_eq!(
            get(addr, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let huge = "x".repeat(10 * 1024 * 1024 + 1);
    let answer = call(addr, Method::POST, "/anything", &[], &huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let target = target();
    let addr = target.local_addr();
    let mut connection = Connection::open(addr).await;
    for path in ["/", "/json", "/status/503", "/", "/bytes/10"] {
        let answer = connection
            .send(request(addr, Method::GET, path, &[], ""))
            .await;
        assert_ne!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    // A body the route ignores must not break the next request on the connection.
    let with_body = request(addr, Method::POST, "/", &[], "ignored body");
    assert_eq!(connection.send(with_body).await.body, "hello world\n");
    assert_eq!(
        connection
            .send(request(addr, Method::GET, "/", &[], ""))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn http2_cleartext_is_served_on_the_same_port() {
    let target = target();
    let (version, answer) = get_h2(target.local_addr(), "/anything?x=1").await;
    assert_eq!(version, http::Version::HTTP_2);
    assert_eq!(answer.status, StatusCode::OK);
    let echo = answer.json();
    assert_eq!(echo["args"], json!({"x": "1"}));
    assert_eq!(
        echo["url"],
        format!("http://{}/anything?x=1", target.local_addr())
    );
}

#[tokio::test]
async fn basic_auth_accepts_only_the_credentials_in_the_path() {
    let target = target();
    let addr = target.local_addr();
    // "ann:s3cret" in base64.
    let right = [("authorization", "Basic YW5uOnMzY3JldA==")];
    let ok = call(addr, Method::GET, "/basic-auth/ann/s3cret", &right, "").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json(), json!({"authenticated": true, "user": "ann"}));

    let wrong = call(addr, Method::GET, "/basic-auth/ann/other", &right, "").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("www-authenticate").starts_with("Basic realm="));
    assert_eq!(
        get(addr, "/basic-auth/ann/s3cret").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(addr, "/basic-auth/ann").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bearer_echoes_the_token_or_challenges() {
    let target = target();
    let addr = target.local_addr();
    let with_token = [("authorization", "Bearer brunt-test-token")];
    let ok = call(addr, Method::GET, "/bearer", &with_token, "").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["token"], "brunt-test-token");
    let missing = get(addr, "/bearer").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.header("www-authenticate"), "Bearer");
}

#[tokio::test]
async fn response_headers_are_set_from_the_query() {
    let target = target();
    let addr = target.local_addr();
    let answer = get(
        addr,
        "/response-headers?X-Tag=a&X-Tag=b&Content-Type=text/csv",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let tags: Vec<_> = answer.headers.get_all("x-tag").iter().collect();
    assert_eq!(tags, ["a", "b"]);
    assert_eq!(answer.header("content-type"), "text/csv");
    assert_eq!(answer.json()["X-Tag"], json!(["a", "b"]));
    assert_eq!(
        get(addr, "/response-headers?bad%20name=1").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn gzip_and_deflate_answer_compressed_json() {
    use std::io::Read;
    let target = target();
    let addr = target.local_addr();

    let gzipped = get(addr, "/gzip").await;
    assert_eq!(gzipped.header("content-encoding"), "gzip");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&gzipped.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&plain).unwrap()["gzipped"],
        true
    );

    let deflated = get(addr, "/deflate").await;
    assert_eq!(deflated.header("content-encoding"), "deflate");
    let mut plain = String::new();
    flate2::read::ZlibDecoder::new(&deflated.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&plain).unwrap()["deflated"],
        true
    );
}

#[tokio::test]
async fn ip_and_user_agent_describe_the_client() {
    let target = target();
    let addr = target.local_addr();
    assert_eq!(
        get(addr, "/ip").await.json(),
        json!({"origin": "127.0.0.1"})
    );
    let agent = call(
        addr,
        Method::GET,
        "/user-agent",
        &[("user-agent", "brunt/0.1")],
        "",
    )
    .await;
    assert_eq!(agent.json(), json!({"user-agent": "brunt/0.1"}));
}

#[tokio::test]
async fn multipart_forms_echo_fields_and_files() {
    let target = target();
    let addr = target.local_addr();
    let content_type = [("content-type", "multipart/form-data; boundary=XyZ")];
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n";
    let answer = call(addr, Method::POST, "/post", &content_type, body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let echo = answer.json();
    assert_eq!(echo["form"], json!({"note": "hello"}));
    assert_eq!(echo["files"], json!({"upload": "file body"}));
    assert_eq!(echo["data"], "");

    let broken = call(
        addr,
        Method::POST,
        "/anything",
        &content_type,
        "no parts here",
    )
    .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(broken.json()["error"]
        .as_str()
        .unwrap()
        .contains("multipart"));
}

#[tokio::test]
async fn ws_echo_refuses_a_plain_request() {
    let target = target();
    let plain = get(target.local_addr(), "/ws/echo").await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert!(plain.json()["error"]
        .as_str()
        .unwrap()
        .contains("Sec-WebSocket-Key"));
}

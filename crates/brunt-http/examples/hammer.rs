//! Throughput check of the client, for comparing with wrk: N clients as tasks on one
//! current-thread runtime, each sending the same GET in a loop for a number of seconds, every
//! response recorded as k6 samples (as `brunt quick` does).
//!
//! `cargo run --release -p brunt-http --example hammer -- http://127.0.0.1:18080/ 50 5`

use brunt_http::{Client, ClientConfig, ExpectedStatuses, Recorder, Request};
use brunt_metrics::{builtin, Aggregator, Registry, TagSet};
use http::Method;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18080/".into());
    let conns: usize = args.next().map_or(50, |s| s.parse().expect("connections"));
    let secs: u64 = args.next().map_or(5, |s| s.parse().expect("seconds"));
    let req = match Request::new(Method::GET, &url) {
        Ok(r) => Rc::new(r),
        Err(e) => {
            eprintln!("bad URL {url}: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let agg = Rc::new(RefCell::new(Aggregator::new(
        Arc::new(Registry::new()),
        false,
    )));
    let rec = Rc::new(RefCell::new(Recorder::new()));
    let tags = TagSet::new([("scenario", "default")]);
    let expected = Rc::new(ExpectedStatuses::default());
    let local = tokio::task::LocalSet::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    for _ in 0..conns {
        let (req, agg, rec, tags, expected) = (
            req.clone(),
            agg.clone(),
            rec.clone(),
            tags.clone(),
            expected.clone(),
        );
        local.spawn_local(async move {
            let client = Client::new(ClientConfig::default()).expect("client");
            while Instant::now() < end {
                let resp = client.send(&req).await;
                rec.borrow_mut()
                    .record(&mut agg.borrow_mut(), &resp, &tags, Some(&expected), None);
            }
        });
    }
    rt.block_on(local);
    let elapsed = started.elapsed().as_secs_f64();
    let series = agg.borrow_mut().take().series;
    let count = |status: &str| -> u64 {
        series
            .iter()
            .filter(|((m, t), _)| *m == builtin::HTTP_REQS && t.get("status") == Some(status))
            .map(|(_, a)| a.stat("count", 1.0).unwrap_or(0.0) as u64)
            .sum()
    };
    let (ok, failed) = (count("200"), count("0"));
    println!(
        "{:.0} req/s ({} ok, {} failed in {:.2}s)",
        (ok + failed) as f64 / elapsed,
        ok,
        failed,
        elapsed
    );
}

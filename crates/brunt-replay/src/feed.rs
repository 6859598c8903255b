//! The log as the engine's arrival feed: a thread of its own streams the log again (the same
//! reader and parsers as `brunt model`), turns each request into a [`FedRequest`] at its
//! offset (its logged time since the first request, divided by `--speed`), keeps or repeats it
//! as `--rate-scale` says, and hands it on through a bounded channel. So the log is read ahead
//! by at most [`WINDOW`] requests, however long it is, and the workers never wait on the disk.

use crate::scan::{replayable, Clock};
use anyhow::{Context, Result};
use brunt_engine::arrival::{Arrival, ArrivalFeed};
use brunt_http::Request;
use brunt_metrics::TagSet;
use brunt_quick::FedRequest;
use brunt_workload::format::{JsonFields, LogFormat, Record};
use brunt_workload::reader::{self, Sink};
use brunt_workload::route::{Normaliser, Pattern};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests read ahead of the workers.
pub const WINDOW: usize = 4096;
/// The `name` of the requests past `max_routes` distinct routes.
pub const OTHER_ROUTES: &str = "(other routes)";

/// Logged request headers not replayed: the target's own connection decides them.
const NOT_REPLAYED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

/// What the feed reads and how it plays it.
pub struct Settings {
    pub log: PathBuf,
    pub format: LogFormat,
    pub fields: JsonFields,
    pub patterns: Vec<Pattern>,
    pub max_routes: usize,
    /// The target's scheme, host, port (and path prefix), without a trailing `/`.
    pub target: String,
    /// `-H` headers, sent with every request (over a logged header of the same name).
    pub headers: Vec<(String, String)>,
    pub speed: f64,
    pub rate_scale: f64,
    pub seed: u64,
    /// The first request's time (from the scan): offset 0.
    pub first_us: i64,
    /// With `--loop`: how far apart the passes start (the played span plus one mean gap).
    pub period: Option<Duration>,
    /// Nothing is fed at or after this offset.
    pub until: Duration,
}

/// The engine's side: the workers pull the next request from the channel in turn.
pub struct LogFeed {
    rx: Mutex<Receiver<Arrival>>,
    error: Arc<Mutex<Option<String>>>,
}

impl ArrivalFeed for LogFeed {
    fn next(&self) -> Option<Arrival> {
        self.rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv()
            .ok()
    }
}

impl LogFeed {
    /// Starts reading on a thread of its own; it stops at the log's end (the last pass's, with
    /// `--loop`), at `until`, or when the feed is dropped.
    pub fn start(settings: Settings) -> Result<Arc<LogFeed>> {
        let (tx, rx) = sync_channel(WINDOW);
        let error = Arc::new(Mutex::new(None));
        let failed = error.clone();
        std::thread::Builder::new()
            .name("replay-feed".into())
            .spawn(move || feed(settings, tx, &failed))
            .context("cannot start the log's reader thread")?;
        Ok(Arc::new(LogFeed {
            rx: Mutex::new(rx),
            error,
        }))
    }

    /// Why the reader stopped before the log's end, if it did (the log changed since the scan).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Says the reader should stop: the run needs nothing more.
#[derive(Debug)]
struct Enough;

impl std::fmt::Display for Enough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the replay needs no more requests")
    }
}

impl std::error::Error for Enough {}

/// Reads the log into `tx`; an error is kept in `failed` before the channel closes, so the run
/// that sees the feed end finds it.
fn feed(settings: Settings, tx: SyncSender<Arrival>, failed: &Mutex<Option<String>>) {
    let mut requests = Requests {
        rng: SmallRng::seed_from_u64(settings.seed),
        normaliser: Normaliser::new(settings.patterns.clone()),
        routes: HashSet::new(),
        names: HashMap::new(),
        key: String::new(),
        clock: Clock::default(),
        pass_start: Duration::ZERO,
        pending: None,
        tx,
        settings,
    };
    if let Err(e) = passes(&mut requests) {
        *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{e:#}"));
    }
}

/// The log's passes: one, or with `--loop` as many as start before `until`.
fn passes(requests: &mut Requests) -> Result<()> {
    let source = requests.settings.log.display().to_string();
    loop {
        let input = reader::open(&requests.settings.log)?;
        let read = reader::read(
            &source,
            input,
            Some(requests.settings.format),
            requests.settings.fields.clone(),
            false,
            requests,
        );
        match read {
            Ok(_) => {}
            Err(e) if e.is::<Enough>() => return Ok(()),
            Err(e) => return Err(e),
        }
        // The next pass starts one period later; its first request ends the last one's gap.
        match requests.settings.period {
            Some(period) if requests.pass_start + period < requests.settings.until => {
                requests.pass_start += period;
                requests.clock = Clock::default();
            }
            _ => {
                // At the end, the last request's copies go out together.
                let _ = requests.flush(None);
                return Ok(());
            }
        }
    }
}

/// A request read but not yet fed: its copies are spread over the gap to the next one.
struct Pending {
    offset: Duration,
    request: Request,
    tags: TagSet,
}

/// The reader's sink: records to requests with their offsets, tags and copies.
struct Requests {
    settings: Settings,
    rng: SmallRng,
    normaliser: Normaliser,
    /// The distinct `METHOD ROUTE`s named so far (at most `max_routes`).
    routes: HashSet<String>,
    /// `name` and `logged_status` tags by "METHOD ROUTE STATUS".
    names: HashMap<String, TagSet>,
    key: String,
    clock: Clock,
    pass_start: Duration,
    pending: Option<Pending>,
    tx: SyncSender<Arrival>,
}

impl Requests {
    /// The `name` (`METHOD ROUTE`, as `brunt model --script` names requests) and
    /// `logged_status` tags of a request; routes past `max_routes` distinct ones share one name.
    fn tags(&mut self, method: &str, path: &str, status: u16) -> TagSet {
        let route = self.normaliser.route(path);
        self.key.clear();
        self.key.push_str(method);
        self.key.push(' ');
        self.key.push_str(route);
        if !self.routes.contains(self.key.as_str()) {
            if self.routes.len() >= self.settings.max_routes {
                self.key.clear();
                self.key.push_str(OTHER_ROUTES);
            } else {
                self.routes.insert(self.key.clone());
            }
        }
        let name_len = self.key.len();
        self.key.push(' ');
        self.key.push_str(&status.to_string());
        if let Some(tags) = self.names.get(self.key.as_str()) {
            return tags.clone();
        }
        let status = status.to_string();
        let tags = TagSet::new([("name", &self.key[..name_len]), ("logged_status", &status)]);
        self.names.insert(self.key.clone(), tags.clone());
        tags
    }

    fn request(&self, rec: &Record, method: http::Method) -> Result<Request, String> {
        let url = format!("{}{}", self.settings.target, rec.target);
        let mut req =
            Request::new(method, &url).map_err(|e| format!("URL '{url}': {}", e.message))?;
        for (name, value) in &rec.headers {
            let lower = name.to_ascii_lowercase();
            if NOT_REPLAYED.contains(&lower.as_str())
                || self
                    .settings
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                continue;
            }
            // A logged header that is no valid header is left out, not the request.
            let _ = req.set_header(name, value);
        }
        for (name, value) in &self.settings.headers {
            req.set_header(name, value)
                .map_err(|e| format!("--header '{name}': {}", e.message))?;
        }
        if let Some(body) = rec.body {
            req.set_body(body.as_bytes().to_vec());
        }
        // Bodies are counted as they arrive, not kept.
        req.discard_body = true;
        Ok(req)
    }

    /// Feeds the pending request's copies, spread evenly up to `next` (or all at its offset at
    /// the log's end). Err when the run wants no more.
    fn flush(&mut self, next: Option<Duration>) -> Result<(), Enough> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let scale = self.settings.rate_scale;
        let whole = scale.floor();
        let copies = whole as u64 + u64::from(self.rng.random::<f64>() < scale - whole);
        let gap = next.map_or(Duration::ZERO, |n| n.saturating_sub(p.offset));
        for i in 0..copies {
            let offset = p.offset + gap.mul_f64(i as f64 / copies as f64);
            if offset >= self.settings.until {
                return Err(Enough);
            }
            let payload = Box::new(FedRequest {
                request: p.request.clone(),
                tags: p.tags.clone(),
            });
            self.tx
                .send(Arrival { offset, payload })
                .map_err(|_| Enough)?;
        }
        Ok(())
    }
}

impl Sink for Requests {
    fn push(&mut self, rec: &Record, line: u64) -> Result<Result<(), String>> {
        let (method, t) = match replayable(rec) {
            Ok(ok) => ok,
            Err(why) => return Ok(Err(why)),
        };
        let at = self.clock.place(t, line)?;
        let logged = Duration::from_micros((at - self.settings.first_us).max(0) as u64);
        let offset = self.pass_start + logged.div_f64(self.settings.speed);
        let path = rec.target.split(['?', '#']).next().unwrap_or_default();
        let tags = self.tags(rec.method, path, rec.status);
        let request = match self.request(rec, method) {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        self.flush(Some(offset)).map_err(anyhow::Error::new)?;
        self.pending = Some(Pending {
            offset,
            request,
            tags,
        });
        Ok(Ok(()))
    }
}

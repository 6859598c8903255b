//! One direction of a proxied connection: reads from the source, runs each
//! chunk through the active toxics' stages, and writes pieces to the
//! destination when their time has come.
//!
//! With no active toxic and nothing queued the link takes a fast path
//! ([`Link::relay`]): each chunk is written straight back out from the read
//! buffer, so an idle proxy costs one read and one write per chunk, and the
//! connection's controls (cancellation, toxic changes, `http_status` answers)
//! are polled only when one of them woke the link (or every
//! [`CONTROL_EVERY`] chunks of a busy stream), not once per chunk. A toxic
//! change hands the link back to the pipeline between two chunks: what was
//! already written stays written, later chunks go through the new chain.
//!
//! Live changes: when the proxy's toxics change, stages of toxics that remain
//! keep their per-connection state, new ones start, removed ones get a last
//! word (a removed `timeout` closes). The pieces of the chunk in flight are
//! released at once, as Toxiproxy flushes an interrupted stage; chunks read but
//! not yet planned go through the new chain with their original read time.
//! Nothing read is dropped or reordered by a change.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::model::{Chain, ToxicEntry};
use crate::proxy::ProxyCtx;
use crate::seed::rng_for;
use crate::toxics::{Action, Body, Direction, Piece, Scope, Stage, StageCx};

/// Bytes asked of the kernel per read.
const READ_SIZE: usize = 32 * 1024;
/// Read-ahead held while toxics delay delivery; reading pauses beyond it.
const INBOX_LIMIT: usize = 1024 * 1024;
/// No http_reset armed.
const NOT_ARMED: u64 = u64::MAX;
/// Chunks the fast path may relay back to back before it looks at the
/// connection's controls even though the source still has data.
const CONTROL_EVERY: u32 = 16;

/// State shared by the two directions of one connection.
pub(crate) struct Conn {
    /// Cancelled to end the connection (proxy disabled, toxic closed it).
    pub token: CancellationToken,
    /// When set before `token` is cancelled, the connection ends with RST.
    reset: AtomicBool,
    /// Response bytes still allowed before an armed `http_reset` fires.
    reset_after: AtomicU64,
    /// Sequence number of the connection on its proxy, for seeding.
    pub seq: u64,
}

impl Conn {
    pub fn new(token: CancellationToken, seq: u64) -> Self {
        Self {
            token,
            reset: AtomicBool::new(false),
            reset_after: AtomicU64::new(NOT_ARMED),
            seq,
        }
    }

    fn close(&self, reset: bool) {
        if reset {
            self.reset.store(true, Ordering::SeqCst);
        }
        self.token.cancel();
    }
}

/// A toxic's stage on this connection.
struct Entry {
    uid: u64,
    rev: u64,
    toxicity: f32,
    /// Result of the toxicity roll for this connection.
    active: bool,
    rng: SmallRng,
    stage: Box<dyn Stage>,
}

/// Why a link stopped pumping.
enum Stop {
    /// Source closed and the close was passed on.
    Finished,
    /// The connection was ended (by a toxic, an error or the proxy).
    Ended,
}

pub(crate) struct Link {
    dir: Direction,
    src: OwnedReadHalf,
    dst: OwnedWriteHalf,
    conn: Arc<Conn>,
    ctx: Arc<ProxyCtx>,
    chain: watch::Receiver<Chain>,
    /// Registered once, so waiting on it costs nothing per chunk.
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Client-to-server link: where `http_status` answers go.
    respond: Option<mpsc::UnboundedSender<Bytes>>,
    /// Server-to-client link: answers to write to the client.
    answers: Option<mpsc::UnboundedReceiver<Bytes>>,
    /// The waker the fast path registers the controls with.
    control: Arc<ControlWake>,
    /// Set when the controls were last polled with another waker than `control`'s.
    controls_stale: bool,
}

/// Wakes the link's task and notes that a control (cancellation, toxic change,
/// answer) may be ready, so the fast path polls the controls only when one of
/// them actually woke it, not once per chunk.
#[derive(Default)]
struct ControlWake {
    fired: AtomicBool,
    /// The link's task, set the first time the fast path runs.
    task: OnceLock<Waker>,
}

impl Wake for ControlWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.get() {
            task.wake_by_ref();
        }
    }
}

/// Why [`Link::relay`] handed the link back to the pipeline.
enum Relayed {
    /// The proxy's toxics changed; `None` when the proxy is gone.
    Changed(Option<watch::Receiver<Chain>>),
    /// The source closed or failed.
    Eof,
    Stop(Stop),
}

/// Why the fast path's poll stopped relaying chunks.
enum Event {
    /// `n` bytes read into the buffer that could not go straight out (the
    /// destination is full, or an `http_reset` is armed): `written` of them went.
    Unwritten {
        n: usize,
        written: usize,
    },
    /// The source closed or failed.
    Eof,
    /// Writing failed; the connection is closed.
    Ended,
    Cancelled,
    Changed(Option<watch::Receiver<Chain>>),
    Answer(Bytes),
}

/// Resolves when the proxy's toxics change, handing back the receiver to wait again.
type ChainChange = Pin<Box<dyn Future<Output = Option<watch::Receiver<Chain>>> + Send>>;

fn next_change(mut rx: watch::Receiver<Chain>) -> ChainChange {
    Box::pin(async move { rx.changed().await.ok().map(|()| rx) })
}

/// The two directions of a connection.
pub(crate) struct Halves {
    pub client: TcpStream,
    pub upstream: TcpStream,
}

impl Link {
    /// Builds the client-to-server and server-to-client links of a connection.
    pub fn pair(
        halves: Halves,
        conn: Arc<Conn>,
        ctx: &Arc<ProxyCtx>,
        chain: &watch::Receiver<Chain>,
    ) -> (Self, Self) {
        let (client_read, client_write) = halves.client.into_split();
        let (upstream_read, upstream_write) = halves.upstream.into_split();
        let (respond, answers) = mpsc::unbounded_channel();
        let link = |dir, src, dst| Link {
            dir,
            src,
            dst,
            conn: conn.clone(),
            ctx: ctx.clone(),
            chain: chain.clone(),
            cancelled: Box::pin(conn.token.clone().cancelled_owned()),
            respond: None,
            answers: None,
            control: Arc::default(),
            controls_stale: true,
        };
        let mut up = link(Direction::Upstream, client_read, upstream_write);
        up.respond = Some(respond);
        let mut down = link(Direction::Downstream, upstream_read, client_write);
        down.answers = Some(answers);
        (up, down)
    }

    /// Pumps until the source closes or the connection ends.
    pub async fn run(mut self) {
        self.pump().await;
        if self.conn.reset.load(Ordering::SeqCst) {
            // RST instead of FIN: zero linger, and no shutdown on drop.
            let _ = self.src.as_ref().set_zero_linger();
            let _ = self.dst.as_ref().set_zero_linger();
            self.dst.forget();
        }
    }

    async fn pump(&mut self) -> Stop {
        let mut entries: Vec<Entry> = Vec::new();
        let mut pending: VecDeque<Piece> = VecDeque::new();
        let chain = self.chain.borrow_and_update().clone();
        let mut changes = next_change(self.chain.clone());
        self.sync(&mut entries, &chain, Instant::now(), &mut pending);
        let mut passthrough = entries.iter().all(|e| !e.active);
        let mut inbox: VecDeque<Piece> = VecDeque::new();
        let mut inbox_bytes = 0usize;
        let mut buf = vec![0u8; READ_SIZE];
        let mut read_done = false;
        let mut chain_changed = false;
        loop {
            if std::mem::take(&mut chain_changed) {
                let chain = self.chain.borrow_and_update().clone();
                let now = Instant::now();
                for p in pending.iter_mut() {
                    p.at = p.at.min(now);
                }
                self.sync(&mut entries, &chain, now, &mut pending);
                passthrough = entries.iter().all(|e| !e.active);
            }
            fire_deadlines(&mut entries, Instant::now(), &mut pending);
            // Plan chunks and write what is due until something has to wait.
            loop {
                while pending.is_empty() {
                    let Some(piece) = inbox.pop_front() else {
                        break;
                    };
                    if let Body::Data(d) = &piece.body {
                        inbox_bytes -= d.len();
                    }
                    run_through(&mut entries, 0, piece, &mut pending);
                }
                let now = Instant::now();
                while pending.front().is_some_and(|p| p.at <= now) {
                    let piece = pending.pop_front().expect("front checked");
                    if let Some(stop) = self.deliver(piece).await {
                        return stop;
                    }
                }
                if !pending.is_empty() || inbox.is_empty() {
                    break;
                }
            }
            if passthrough && inbox.is_empty() && pending.is_empty() && !read_done {
                match self.relay(&mut buf, &mut changes).await {
                    Relayed::Changed(Some(rx)) => {
                        changes = next_change(rx);
                        chain_changed = true;
                    }
                    Relayed::Changed(None) => return Stop::Ended,
                    Relayed::Eof => {
                        read_done = true;
                        inbox.push_back(Piece {
                            at: Instant::now(),
                            body: Body::Eof,
                        });
                    }
                    Relayed::Stop(stop) => return stop,
                }
                continue;
            }
            let wake = pending
                .front()
                .map(|p| p.at)
                .into_iter()
                .chain(
                    entries
                        .iter()
                        .filter(|e| e.active)
                        .filter_map(|e| e.stage.deadline()),
                )
                .min();
            let can_read = !read_done && inbox_bytes < INBOX_LIMIT;
            tokio::select! {
                biased;
                _ = &mut self.cancelled => return Stop::Ended,
                changed = &mut changes => match changed {
                    Some(rx) => {
                        changes = next_change(rx);
                        chain_changed = true;
                    }
                    None => return Stop::Ended,
                },
                Some(answer) = next_answer(&mut self.answers) => {
                    if self.write(&answer).await.is_err() {
                        return Stop::Ended;
                    }
                }
                _ = sleep_until(wake) => {}
                read = self.src.read(&mut buf), if can_read => {
                    let now = Instant::now();
                    match read {
                        Ok(0) | Err(_) => {
                            read_done = true;
                            inbox.push_back(Piece { at: now, body: Body::Eof });
                        }
                        Ok(n) => {
                            self.ctx.counters.received(self.dir, n);
                            inbox.push_back(Piece::data(now, Bytes::copy_from_slice(&buf[..n])));
                            inbox_bytes += n;
                        }
                    }
                }
            }
        }
    }

    /// The fast path, while no toxic acts on this link and nothing is queued:
    /// copies chunk by chunk from the source to the destination until the
    /// toxics change, the source closes or the connection ends.
    ///
    /// The controls are polled (and their wake-ups registered) when the source
    /// has nothing to read, and at least every [`CONTROL_EVERY`] chunks. A chunk
    /// that fits the destination's send buffer is read and written within one
    /// poll; only the rare one that does not fit leaves the poll to be awaited.
    async fn relay(&mut self, buf: &mut [u8], changes: &mut ChainChange) -> Relayed {
        let control = Waker::from(self.control.clone());
        // The pipeline polled the controls with the task's own waker.
        self.controls_stale = true;
        let mut streak = 0u32;
        loop {
            let event =
                poll_fn(|cx| self.poll_relay(cx, &control, buf, changes, &mut streak)).await;
            match event {
                Event::Unwritten { n, written } => {
                    let sent = if written == 0 {
                        self.write_data(&buf[..n]).await
                    } else {
                        self.write_rest(&buf[..n], written)
                            .await
                            .map_err(|()| Stop::Ended)
                    };
                    if let Err(stop) = sent {
                        return Relayed::Stop(stop);
                    }
                }
                Event::Eof => return Relayed::Eof,
                Event::Ended | Event::Cancelled => return Relayed::Stop(Stop::Ended),
                Event::Changed(changed) => return Relayed::Changed(changed),
                Event::Answer(answer) => {
                    // More answers may be queued behind this one.
                    self.controls_stale = true;
                    if self.write(&answer).await.is_err() {
                        return Relayed::Stop(Stop::Ended);
                    }
                }
            }
        }
    }

    /// Relays chunks until the source has nothing to read (`Pending`, the
    /// controls registered) or something needs [`Link::relay`]'s attention.
    fn poll_relay(
        &mut self,
        cx: &mut Context<'_>,
        control: &Waker,
        buf: &mut [u8],
        changes: &mut ChainChange,
        streak: &mut u32,
    ) -> Poll<Event> {
        // Always true with `run`, which keeps the link on one task.
        let own_task = self
            .control
            .task
            .get_or_init(|| cx.waker().clone())
            .will_wake(cx.waker());
        let mut drained = false;
        loop {
            let controls_first = *streak >= CONTROL_EVERY;
            if !controls_first {
                match self.poll_chunk(cx, buf, &mut drained) {
                    Poll::Ready(None) => {
                        *streak += 1;
                        continue;
                    }
                    Poll::Ready(Some(event)) => return Poll::Ready(event),
                    Poll::Pending => {}
                }
            }
            *streak = 0;
            // A load first: the locked swap only when a control did fire.
            let fired = self.control.fired.load(Ordering::Acquire)
                && self.control.fired.swap(false, Ordering::AcqRel);
            let stale = std::mem::replace(&mut self.controls_stale, !own_task);
            if fired || stale || controls_first || !own_task {
                let polled = if own_task {
                    let mut own = Context::from_waker(control);
                    poll_controls(&mut self.cancelled, changes, &mut self.answers, &mut own)
                } else {
                    poll_controls(&mut self.cancelled, changes, &mut self.answers, cx)
                };
                if let Some(event) = polled {
                    return Poll::Ready(event);
                }
            }
            if !controls_first {
                return Poll::Pending;
            }
            match self.poll_chunk(cx, buf, &mut drained) {
                Poll::Ready(None) => *streak += 1,
                Poll::Ready(Some(event)) => return Poll::Ready(event),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Reads a chunk and writes it straight out: `Ready(None)` when all of it went.
    ///
    /// `drained`: the previous read of this poll came short, so tokio cleared the
    /// source's read readiness and a read would only register the task: wait for
    /// readiness directly, without the read's own layer (half the proxy's reads).
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        drained: &mut bool,
    ) -> Poll<Option<Event>> {
        if std::mem::take(drained) {
            match self.src.as_ref().poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Some(Event::Eof)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let mut rb = ReadBuf::new(buf);
        let n = match Pin::new(&mut self.src).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => rb.filled().len(),
            Poll::Ready(Err(_)) => return Poll::Ready(Some(Event::Eof)),
            Poll::Pending => return Poll::Pending,
        };
        if n == 0 {
            return Poll::Ready(Some(Event::Eof));
        }
        *drained = n < rb.capacity();
        self.ctx.counters.received(self.dir, n);
        if self.reset_armed() {
            return Poll::Ready(Some(Event::Unwritten { n, written: 0 }));
        }
        Poll::Ready(match self.dst.try_write(&buf[..n]) {
            Ok(written) if written == n => {
                self.ctx.counters.sent(self.dir, n);
                None
            }
            Ok(written) => Some(Event::Unwritten { n, written }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Some(Event::Unwritten { n, written: 0 })
            }
            Err(_) => {
                self.conn.close(false);
                Some(Event::Ended)
            }
        })
    }

    /// Aligns the connection's stages with the proxy's current toxics.
    fn sync(
        &self,
        entries: &mut Vec<Entry>,
        chain: &[Arc<ToxicEntry>],
        now: Instant,
        out: &mut VecDeque<Piece>,
    ) {
        let mut old = std::mem::take(entries);
        for t in chain.iter().filter(|t| t.acts_on(self.dir)) {
            if let Some(i) = old.iter().position(|e| e.uid == t.uid) {
                let mut e = old.remove(i);
                if e.rev != t.rev {
                    e.stage.update(&t.toxic.kind, now);
                    if e.toxicity != t.toxic.toxicity {
                        e.toxicity = t.toxic.toxicity;
                        e.active = roll(t, &mut e.rng);
                    }
                    e.rev = t.rev;
                }
                entries.push(e);
            } else {
                let mut rng = rng_for(self.ctx.seed, &self.ctx.name, self.conn.seq, &t.toxic.name);
                let active = roll(t, &mut rng);
                entries.push(Entry {
                    uid: t.uid,
                    rev: t.rev,
                    toxicity: t.toxic.toxicity,
                    active,
                    rng,
                    stage: t.toxic.kind.stage(now),
                });
            }
        }
        for mut e in old.into_iter().filter(|e| e.active) {
            let mut last = Vec::new();
            e.stage.on_remove(now, &mut last);
            out.extend(last);
        }
    }

    /// Carries out one piece; `Some` when the link must stop.
    async fn deliver(&mut self, piece: Piece) -> Option<Stop> {
        match piece.body {
            Body::Data(data) => self.write_data(&data).await.err(),
            Body::Eof => {
                let _ = self.dst.shutdown().await;
                Some(Stop::Finished)
            }
            Body::Act(Action::Close) => {
                self.conn.close(false);
                Some(Stop::Ended)
            }
            Body::Act(Action::Reset) => {
                self.conn.close(true);
                Some(Stop::Ended)
            }
            Body::Act(Action::Respond(answer)) => {
                if let Some(tx) = &self.respond {
                    let _ = tx.send(answer);
                }
                None
            }
            Body::Act(Action::ArmReset(after)) => {
                self.conn.reset_after.store(after, Ordering::SeqCst);
                None
            }
        }
    }

    /// An `http_reset` is armed on this link: its data goes through [`Link::write_data`].
    fn reset_armed(&self) -> bool {
        self.dir == Direction::Downstream
            && self.conn.reset_after.load(Ordering::SeqCst) != NOT_ARMED
    }

    /// Writes proxied data, honouring an armed `http_reset` on the way to the client.
    async fn write_data(&mut self, data: &[u8]) -> Result<(), Stop> {
        let allowed = self.conn.reset_after.load(Ordering::SeqCst);
        if allowed != NOT_ARMED && self.dir == Direction::Downstream {
            if (data.len() as u64) <= allowed {
                self.conn
                    .reset_after
                    .store(allowed - data.len() as u64, Ordering::SeqCst);
            } else {
                let _ = self.write(&data[..allowed as usize]).await;
                self.conn.close(true);
                return Err(Stop::Ended);
            }
        }
        self.write(data).await.map_err(|_| Stop::Ended)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ()> {
        // A chunk nearly always fits the socket's send buffer: one call, nothing to wait on.
        let written = match self.dst.try_write(data) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                self.conn.close(false);
                return Err(());
            }
        };
        self.write_rest(data, written).await
    }

    /// Writes `data` from `written` on, waiting for room, and counts all of it as sent.
    async fn write_rest(&mut self, data: &[u8], written: usize) -> Result<(), ()> {
        if written < data.len() {
            // Waiting registers `cancelled` with the task's own waker.
            self.controls_stale = true;
        }
        let done = written == data.len()
            || tokio::select! {
                r = self.dst.write_all(&data[written..]) => r.is_ok(),
                _ = &mut self.cancelled => false,
            };
        if done {
            self.ctx.counters.sent(self.dir, data.len());
            Ok(())
        } else {
            self.conn.close(false);
            Err(())
        }
    }
}

/// Rolls toxicity for a connection; request-scoped toxics roll per request instead.
fn roll(t: &ToxicEntry, rng: &mut SmallRng) -> bool {
    match t.toxic.kind.scope() {
        Scope::Requests => true,
        _ => rng.random::<f32>() < t.toxic.toxicity,
    }
}

/// Passes a piece through the active stages from index `from` on.
fn run_through(entries: &mut [Entry], from: usize, piece: Piece, out: &mut VecDeque<Piece>) {
    let mut current = vec![piece];
    for e in entries[from..].iter_mut().filter(|e| e.active) {
        let mut next = Vec::with_capacity(current.len());
        let mut cx = StageCx {
            rng: &mut e.rng,
            toxicity: e.toxicity,
        };
        for p in current.drain(..) {
            e.stage.push(p, &mut cx, &mut next);
        }
        current = next;
    }
    out.extend(current);
}

/// Lets stages whose deadline has passed act, feeding what they emit onward.
fn fire_deadlines(entries: &mut [Entry], now: Instant, out: &mut VecDeque<Piece>) {
    for i in 0..entries.len() {
        let e = &mut entries[i];
        if !e.active || e.stage.deadline().is_none_or(|d| d > now) {
            continue;
        }
        let mut emitted = Vec::new();
        e.stage.on_deadline(now, &mut emitted);
        for p in emitted {
            run_through(entries, i + 1, p, out);
        }
    }
}

/// Polls a link's controls: cancellation first, then toxic changes, then answers.
fn poll_controls(
    cancelled: &mut Pin<Box<WaitForCancellationFutureOwned>>,
    changes: &mut ChainChange,
    answers: &mut Option<mpsc::UnboundedReceiver<Bytes>>,
    cx: &mut Context<'_>,
) -> Option<Event> {
    if cancelled.as_mut().poll(cx).is_ready() {
        return Some(Event::Cancelled);
    }
    if let Poll::Ready(changed) = changes.as_mut().poll(cx) {
        return Some(Event::Changed(changed));
    }
    if let Some(rx) = answers {
        match rx.poll_recv(cx) {
            Poll::Ready(Some(answer)) => return Some(Event::Answer(answer)),
            // The client-to-server link is gone: no answers any more.
            Poll::Ready(None) => *answers = None,
            Poll::Pending => {}
        }
    }
    None
}

async fn next_answer(answers: &mut Option<mpsc::UnboundedReceiver<Bytes>>) -> Option<Bytes> {
    match answers {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

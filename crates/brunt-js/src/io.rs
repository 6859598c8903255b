//! The VU's I/O on the worker's event loop: HTTP through the VU's own brunt-http client
//! (connections per VU, as in k6), sleeps on tokio's timer.
//!
//! Requests started by `http.asyncRequest` and `k6/websockets` sockets live here between waits:
//! every wait of the VU (a sleep, a request, a batch) also polls them, so several of them, and
//! the VU's other I/O, progress at once, as in k6's event loop.

use crate::host::Host;
use crate::modules::http::{Completed, PendingRequest};
use crate::modules::websockets::Sockets;
use crate::vu::{Io, IoReply, IoRequest};
use brunt_http::{Client, Request, Response};
use futures_util::FutureExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

type ResponseFuture = Pin<Box<dyn Future<Output = Response>>>;

/// A request in flight, owning what it needs.
fn sending(client: &Rc<Client>, req: &Rc<Request>) -> ResponseFuture {
    let (client, req) = (client.clone(), req.clone());
    Box::pin(async move { client.send(&req).await })
}

/// What progresses whatever the VU waits for: `http.asyncRequest` hops in flight (and those
/// finished but not collected yet) and the VU's `k6/websockets` sockets.
struct Started {
    running: Vec<(u64, Rc<Request>, ResponseFuture)>,
    finished: Vec<(u64, Rc<Request>, Response)>,
    sockets: Rc<RefCell<Sockets>>,
    client: Rc<Client>,
}

impl Started {
    /// Nothing to drive beside the VU's own wait.
    fn idle(&self) -> bool {
        self.running.is_empty() && self.sockets.borrow().idle()
    }

    /// Polls every running request, moving the finished ones to `finished`, and every socket.
    fn poll(&mut self, cx: &mut Context<'_>) {
        if !self.sockets.borrow().idle() {
            self.sockets.borrow_mut().poll(&self.client, cx);
        }
        let mut i = 0;
        while i < self.running.len() {
            if let Poll::Ready(resp) = self.running[i].2.as_mut().poll(cx) {
                let (id, req, _) = self.running.swap_remove(i);
                self.finished.push((id, req, resp));
            } else {
                i += 1;
            }
        }
    }
}

pub(crate) struct HttpIo {
    client: Rc<Client>,
    started: Started,
    /// The VU's streamed response, read between its waits (`modules::sse`).
    stream: Option<crate::modules::sse::Live>,
    /// The single request in flight (its future borrows it), or the last one sent.
    sending: Option<Rc<Request>>,
}

impl HttpIo {
    /// The driver of `host`'s VU, whose sockets it polls.
    pub(crate) fn new(client: Client, host: &Host) -> Self {
        let client = Rc::new(client);
        HttpIo {
            started: Started {
                running: Vec::new(),
                finished: Vec::new(),
                sockets: host.websockets.clone(),
                client: client.clone(),
            },
            client,
            stream: None,
            sending: None,
        }
    }

    /// Closes the VU's connections (k6's `noVUConnectionReuse`, between iterations).
    pub(crate) fn close_connections(&self) {
        self.client.close_idle();
    }
}

/// The `k6/ws` socket out of the VU's sockets for one wait; it goes back when the wait ends or
/// is dropped.
struct Blocking(Option<crate::modules::ws::Live>, Rc<RefCell<Sockets>>);

impl Blocking {
    fn take(sockets: &Rc<RefCell<Sockets>>) -> Self {
        Blocking(sockets.borrow_mut().blocking.take(), sockets.clone())
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        self.1.borrow_mut().blocking = self.0.take();
    }
}

/// Runs `main` to its end while also driving the started async requests.
async fn alongside<T>(started: &mut Started, main: impl Future<Output = T>) -> T {
    let mut main = std::pin::pin!(main);
    poll_fn(|cx| {
        started.poll(cx);
        main.as_mut().poll(cx)
    })
    .await
}

/// Runs `main` as [`alongside`] does, but gives up on it (None) once a `k6/websockets` socket has
/// an event for the script: `main` must be a wait that can be dropped and asked again.
async fn until_socket_event<T>(started: &mut Started, main: impl Future<Output = T>) -> Option<T> {
    let mut main = std::pin::pin!(main);
    poll_fn(|cx| {
        started.poll(cx);
        match main.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if started.sockets.borrow().has_events() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

impl Io for HttpIo {
    fn perform<'a>(&'a mut self, req: IoRequest) -> Pin<Box<dyn Future<Output = IoReply> + 'a>> {
        let ops = match req {
            // A sleeping VU holds its future for the whole sleep: box a sleep on its own, not in
            // a future sized for an HTTP exchange (several KB per VU in a test of thousands).
            IoRequest::Sleep(d) if self.started.idle() => {
                return Box::pin(async move {
                    tokio::time::sleep(d).await;
                    IoReply::Slept
                })
            }
            IoRequest::Sleep(d) => {
                return Box::pin(async move {
                    alongside(&mut self.started, tokio::time::sleep(d)).await;
                    IoReply::Slept
                })
            }
            // Async requests in flight keep being read while the VU's JavaScript is preempted, so
            // their timings do not include the time it spent computing.
            IoRequest::Yield => {
                return Box::pin(async move {
                    alongside(&mut self.started, tokio::task::yield_now()).await;
                    IoReply::Slept
                })
            }
            IoRequest::Stream(op) => {
                return Box::pin(async move {
                    let f = crate::modules::sse::perform(&self.client, &mut self.stream, op);
                    IoReply::Stream(Box::new(alongside(&mut self.started, f).await))
                })
            }
            IoRequest::Ws(op) => {
                return Box::pin(async move {
                    // The VU's `k6/ws` socket, kept with its sockets between waits and put back
                    // even when the wait is dropped, so that the interrupted call's end closes it.
                    let mut slot = Blocking::take(&self.started.sockets);
                    let f = crate::modules::ws::perform(&self.client, &mut slot.0, op);
                    IoReply::Ws(Box::new(alongside(&mut self.started, f).await))
                });
            }
            IoRequest::Sockets(until) => {
                return Box::pin(async move {
                    let started = &mut self.started;
                    let event = poll_fn(|cx| {
                        started.poll(cx);
                        if started.sockets.borrow().ready() {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    });
                    match until {
                        Some(t) => {
                            let _ = tokio::time::timeout_at(t.into(), event).await;
                        }
                        None => event.await,
                    }
                    IoReply::Slept
                })
            }
            IoRequest::Grpc(op) => {
                return Box::pin(async move {
                    // Waiting for the next event of its calls and streams, the VU's event loop
                    // also runs its sockets' events: the wait ends with none when one comes.
                    let next = matches!(op, crate::modules::grpc::GrpcOp::Next(..));
                    let f = crate::modules::grpc::perform(&self.client, op);
                    let reply = if next {
                        let r = until_socket_event(&mut self.started, f).await;
                        r.unwrap_or(crate::modules::grpc::GrpcReply::Event(None))
                    } else {
                        alongside(&mut self.started, f).await
                    };
                    IoReply::Grpc(Box::new(reply))
                });
            }
            // One request and no async ones running, the common case: a future sized for that
            // alone (half the size of the general one below; a test of thousands of VUs holds
            // one per VU), and no lists to allocate.
            IoRequest::Send(req) if self.started.idle() => {
                // The client's future is made here and boxed as it is: an async block around
                // it would be boxed whole and then copy the client's future into itself when
                // first polled. The request it borrows is kept in `sending` meanwhile.
                self.sending = Some(req);
                let this: &'a HttpIo = self;
                let req = this.sending.as_ref().expect("set above");
                return Box::pin(this.client.send(req).map(|r| IoReply::Sent(Box::new(r))));
            }
            IoRequest::Send(req) => {
                return Box::pin(async move {
                    let f = self.client.send(&req);
                    IoReply::Sent(Box::new(alongside(&mut self.started, f).await))
                })
            }
            IoRequest::Http(ops) => ops,
        };
        Box::pin(async move {
            let mut out = Vec::with_capacity(ops.len());
            for op in ops {
                let done = match &op {
                    PendingRequest::Batch {
                        reqs,
                        limit,
                        per_host,
                    } => {
                        let f = batch(&self.client, reqs, *limit, *per_host);
                        Completed::Batch(alongside(&mut self.started, f).await)
                    }
                    PendingRequest::Start(list) => {
                        for (id, req) in list {
                            let f = sending(&self.client, req);
                            self.started.running.push((*id, req.clone(), f));
                        }
                        Completed::Started
                    }
                    PendingRequest::Collect(until) => {
                        let started = &mut self.started;
                        let done = poll_fn(|cx| {
                            started.poll(cx);
                            let waiting = started.finished.is_empty()
                                && !started.running.is_empty()
                                && !started.sockets.borrow().has_events();
                            if waiting {
                                Poll::Pending
                            } else {
                                Poll::Ready(())
                            }
                        });
                        match *until {
                            Some(t) => {
                                let _ = tokio::time::timeout_at(t.into(), done).await;
                            }
                            None => done.await,
                        }
                        Completed::Collected(std::mem::take(&mut self.started.finished))
                    }
                };
                out.push((op, done));
            }
            IoReply::Http(out)
        })
    }
}

/// The key k6 limits `batchPerHost` by: the URL's host and explicit port.
fn host_key(req: &Request) -> &str {
    let u = req.url();
    &u[url::Position::BeforeHost..url::Position::AfterPort]
}

/// Runs `http.batch`'s requests concurrently and keeps their order. As k6 does, at most `limit`
/// requests are taken at once (in order) and at most `per_host` of them run against one host;
/// a taken request waits for its host's slot. 0 is no limit.
async fn batch(
    client: &Rc<Client>,
    reqs: &[Rc<Request>],
    limit: usize,
    per_host: usize,
) -> Vec<Response> {
    let n = reqs.len();
    let limit = if limit == 0 { n } else { limit.min(n) };
    let per_host = if per_host == 0 { n } else { per_host };
    let mut next = 0;
    // Taken, waiting for a slot of their host, in order.
    let mut waiting: Vec<usize> = Vec::new();
    let mut running: Vec<(usize, ResponseFuture)> = Vec::new();
    let mut per: HashMap<&str, usize> = HashMap::new();
    let mut done: Vec<Option<Response>> = (0..n).map(|_| None).collect();
    let mut left = n;
    poll_fn(|cx| loop {
        while next < n && running.len() + waiting.len() < limit {
            waiting.push(next);
            next += 1;
        }
        waiting.retain(|&i| {
            let slots = per.entry(host_key(&reqs[i])).or_default();
            if *slots < per_host {
                *slots += 1;
                running.push((i, sending(client, &reqs[i])));
                false
            } else {
                true
            }
        });
        let mut progress = false;
        let mut k = 0;
        while k < running.len() {
            if let Poll::Ready(resp) = running[k].1.as_mut().poll(cx) {
                let (i, _) = running.swap_remove(k);
                if let Some(slots) = per.get_mut(host_key(&reqs[i])) {
                    *slots -= 1;
                }
                done[i] = Some(resp);
                left -= 1;
                progress = true;
            } else {
                k += 1;
            }
        }
        if left == 0 {
            return Poll::Ready(
                done.iter_mut()
                    .map(|r| r.take().expect("finished"))
                    .collect(),
            );
        }
        if !progress {
            return Poll::Pending;
        }
    })
    .await
}

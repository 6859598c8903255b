//! The VU's I/O on the worker's event loop: HTTP through the VU's own brunt-http client
//! (connections per VU, as in k6), sleeps on tokio's timer.

use crate::vu::{Io, IoReply, IoRequest};
use brunt_http::{Client, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct HttpIo {
    client: Client,
}

impl HttpIo {
    pub(crate) fn new(client: Client) -> Self {
        HttpIo { client }
    }
}

impl HttpIo {
    /// Closes the VU's connections (k6's `noVUConnectionReuse`, between iterations).
    pub(crate) fn close_connections(&self) {
        self.client.close_idle();
    }
}

impl Io for HttpIo {
    fn perform<'a>(&'a mut self, req: IoRequest) -> Pin<Box<dyn Future<Output = IoReply> + 'a>> {
        // A sleeping VU holds its future for the whole sleep: box a sleep on its own, not in a
        // future sized for an HTTP exchange (several KB per VU in a test of thousands).
        let req = match req {
            IoRequest::Sleep(d) => {
                return Box::pin(async move {
                    tokio::time::sleep(d).await;
                    IoReply::Slept
                })
            }
            IoRequest::Http(reqs) => reqs,
        };
        Box::pin(async move {
            match req {
                mut reqs if reqs.len() == 1 => {
                    let req = reqs.pop().expect("one request");
                    let resp = self.client.send(&req).await;
                    IoReply::Http(vec![(req, resp)])
                }
                reqs => {
                    let client = &self.client;
                    let sends = reqs.iter().map(|r| Box::pin(client.send(r)) as Pin<Box<_>>);
                    let resps = JoinAll::new(sends.collect()).await;
                    IoReply::Http(reqs.into_iter().zip(resps).collect())
                }
            }
        })
    }
}

/// Runs `http.batch`'s requests concurrently on the VU's client and keeps their order.
struct JoinAll<'a> {
    pending: Vec<Option<Pin<Box<dyn Future<Output = Response> + 'a>>>>,
    done: Vec<Option<Response>>,
}

impl<'a> JoinAll<'a> {
    fn new(futs: Vec<Pin<Box<dyn Future<Output = Response> + 'a>>>) -> Self {
        let done = futs.iter().map(|_| None).collect();
        JoinAll {
            pending: futs.into_iter().map(Some).collect(),
            done,
        }
    }
}

impl Future for JoinAll<'_> {
    type Output = Vec<Response>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Response>> {
        let this = &mut *self;
        for (slot, out) in this.pending.iter_mut().zip(this.done.iter_mut()) {
            if let Some(f) = slot {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    *out = Some(r);
                    *slot = None;
                }
            }
        }
        if this.pending.iter().all(Option::is_none) {
            Poll::Ready(
                this.done
                    .iter_mut()
                    .map(|r| r.take().expect("finished"))
                    .collect(),
            )
        } else {
            Poll::Pending
        }
    }
}

//! The attack's VU: one HTTP client (so one connection, as a wrk connection) sending the same
//! prebuilt request once per iteration and recording k6's samples.

use brunt_engine::{IterationCtx, IterationOutcome, Vu, VuError, VuFactory, VuInit, WorkerMetrics};
use brunt_http::{
    Client, ClientConfig, ExpectedStatuses, Recorder, Request, RequestError, Response, Timings,
};
use brunt_metrics::TagSet;
use std::time::Instant;

/// Makes the attack's VUs: each gets a copy of the prebuilt request and a client of its own.
pub struct QuickFactory {
    request: Request,
    config: ClientConfig,
    expected: ExpectedStatuses,
}

impl QuickFactory {
    pub fn new(request: Request, config: ClientConfig) -> Self {
        QuickFactory {
            request,
            config,
            expected: ExpectedStatuses::default(),
        }
    }
}

pub struct QuickVu {
    client: Client,
    request: Request,
    expected: ExpectedStatuses,
    recorder: Recorder,
    metrics: WorkerMetrics,
}

impl VuFactory for QuickFactory {
    type Vu = QuickVu;
    /// A client and a copy of a prebuilt request: a stalled server gets more requests in flight
    /// (up to --max-vus) instead of dropped ones.
    const CHEAP_INIT: bool = true;

    fn create(&self, init: VuInit) -> Result<QuickVu, VuError> {
        let client = Client::new(self.config.clone()).map_err(|e| VuError(e.to_string()))?;
        Ok(QuickVu {
            client,
            request: self.request.clone(),
            expected: self.expected.clone(),
            recorder: Recorder::new(),
            metrics: init.metrics,
        })
    }
}

impl Vu for QuickVu {
    async fn iteration(&mut self, ctx: &IterationCtx) -> IterationOutcome {
        let mut in_flight = InFlight {
            vu: self,
            tags: &ctx.scenario.tags,
            started: ctx.started,
            done: false,
        };
        let resp = in_flight.vu.client.send(&in_flight.vu.request).await;
        in_flight.done = true;
        let vu = &mut *in_flight.vu;
        vu.recorder.record(
            &mut vu.metrics.borrow_mut(),
            &resp,
            &ctx.scenario.tags,
            Some(&vu.expected),
            ctx.scheduled_lag,
        );
        IterationOutcome::Completed
    }
}

/// An iteration's request until its response is recorded. Dropped before that, because the engine
/// interrupted the iteration when the graceful stop ran out, it records the request as cut short,
/// so that the summary counts it and says why.
struct InFlight<'a> {
    vu: &'a mut QuickVu,
    tags: &'a TagSet,
    started: Instant,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let vu = &mut *self.vu;
        let resp = Response::failure(
            &vu.request,
            RequestError::interrupted(),
            Timings::default(),
            self.started.elapsed(),
        );
        vu.recorder.record_interrupted(
            &mut vu.metrics.borrow_mut(),
            &resp,
            self.tags,
            Some(&vu.expected),
        );
    }
}

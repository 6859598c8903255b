//! The attack's VU: one HTTP client (so one connection, as a wrk connection) sending the same
//! prebuilt request once per iteration and recording k6's samples.

use brunt_engine::{IterationCtx, IterationOutcome, Vu, VuError, VuFactory, VuInit, WorkerMetrics};
use brunt_http::{Client, ClientConfig, ExpectedStatuses, Recorder, Request};

pub(crate) struct QuickFactory {
    request: Request,
    config: ClientConfig,
    expected: ExpectedStatuses,
}

impl QuickFactory {
    pub(crate) fn new(request: Request, config: ClientConfig) -> Self {
        QuickFactory {
            request,
            config,
            expected: ExpectedStatuses::default(),
        }
    }
}

pub(crate) struct QuickVu {
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
        let resp = self.client.send(&self.request).await;
        self.recorder.record(
            &mut self.metrics.borrow_mut(),
            &resp,
            &ctx.scenario.tags,
            Some(&self.expected),
            ctx.scheduled_lag,
        );
        IterationOutcome::Completed
    }
}

//! The attack's VU: one HTTP client (so one connection, as a wrk connection) sending the same
//! prebuilt request once per iteration and recording k6's samples; or, for an iteration fed a
//! [`FedRequest`] (`brunt replay`), that request under its own tags. With `--retry`, an iteration
//! is one logical request and its retries.

use brunt_engine::{IterationCtx, IterationOutcome, Vu, VuError, VuFactory, VuInit, WorkerMetrics};
use brunt_http::retry::{Attempts, RetryMetrics, RetryPolicy};
use brunt_http::{
    Client, ClientConfig, ExpectedStatuses, Recorder, Request, RequestError, Response, Timings,
};
use brunt_metrics::{MetricId, TagSet};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Makes the attack's VUs: each gets a copy of the prebuilt request and a client of its own.
pub struct QuickFactory {
    request: Request,
    config: ClientConfig,
    expected: ExpectedStatuses,
    send_lag: Option<MetricId>,
    retry: Option<(Arc<RetryPolicy>, RetryMetrics)>,
}

impl QuickFactory {
    pub fn new(request: Request, config: ClientConfig) -> Self {
        QuickFactory {
            request,
            config,
            expected: ExpectedStatuses::default(),
            send_lag: None,
            retry: None,
        }
    }

    /// Retries failed requests with `policy` (its budget shared by every VU).
    pub fn with_retry(mut self, policy: RetryPolicy, metrics: RetryMetrics) -> Self {
        self.retry = Some((Arc::new(policy), metrics));
        self
    }

    /// Records each open-model request's lag, from its intended start to the moment its VU
    /// sends it, into this trend (milliseconds), tagged as the request.
    pub fn with_send_lag(mut self, trend: MetricId) -> Self {
        self.send_lag = Some(trend);
        self
    }
}

/// A request handed to one iteration by the plan's arrival feed, sent instead of the attack's
/// own; its samples carry `tags` over the scenario's (few distinct sets: the VU keeps each
/// merged set).
pub struct FedRequest {
    pub request: Request,
    pub tags: TagSet,
}

pub struct QuickVu {
    client: Client,
    request: Request,
    expected: ExpectedStatuses,
    recorder: Recorder,
    metrics: WorkerMetrics,
    send_lag: Option<MetricId>,
    /// A fed request's tags merged with the scenario's, by the fed set.
    merged: HashMap<TagSet, TagSet>,
    retry: Option<(Arc<RetryPolicy>, RetryMetrics)>,
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
            send_lag: self.send_lag,
            merged: HashMap::new(),
            retry: self.retry.clone(),
        })
    }
}

impl Vu for QuickVu {
    async fn iteration(&mut self, ctx: &IterationCtx) -> IterationOutcome {
        let fed = ctx
            .payload
            .as_ref()
            .and_then(|p| p.downcast_ref::<FedRequest>());
        // The scenario's tags are borrowed, not cloned: an iteration is one request.
        let fed_tags;
        let tags = match fed {
            Some(f) => {
                let scenario = &ctx.scenario.tags;
                fed_tags = self
                    .merged
                    .entry(f.tags.clone())
                    .or_insert_with(|| scenario.with(f.tags.iter()))
                    .clone();
                &fed_tags
            }
            None => &ctx.scenario.tags,
        };
        if let (Some(trend), Some(lag)) = (self.send_lag, ctx.scheduled_lag) {
            let ms = lag.as_secs_f64() * 1000.0;
            self.metrics.borrow_mut().add(trend, tags, ms);
        }
        let Some((policy, metrics)) = self.retry.clone() else {
            self.attempt(ctx, fed, tags).await;
            return IterationOutcome::Completed;
        };
        let mut attempts = Attempts::start(&policy);
        while let Some(wait) = attempts.after(self.attempt(ctx, fed, tags).await) {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        attempts.record(metrics, &mut self.metrics.borrow_mut(), tags);
        IterationOutcome::Completed
    }
}

impl QuickVu {
    /// Sends the request (the fed one, if any) once and records it under `tags`; returns its
    /// status (0 when no response came).
    async fn attempt(
        &mut self,
        ctx: &IterationCtx,
        fed: Option<&FedRequest>,
        tags: &TagSet,
    ) -> u16 {
        let request = fed.map_or(&self.request, |f| &f.request);
        let mut in_flight = InFlight {
            recorder: &mut self.recorder,
            metrics: &self.metrics,
            expected: &self.expected,
            request,
            tags,
            done: false,
        };
        let resp = self.client.send(request).await;
        in_flight.done = true;
        in_flight.recorder.record(
            &mut self.metrics.borrow_mut(),
            &resp,
            tags,
            Some(&self.expected),
            ctx.scheduled_lag,
        );
        resp.status
    }
}

/// An iteration's request until its response is recorded. Dropped before that, because the engine
/// interrupted the iteration when the graceful stop ran out, it records the request as cut short,
/// so that the summary counts it and says why.
struct InFlight<'a> {
    recorder: &'a mut Recorder,
    metrics: &'a WorkerMetrics,
    expected: &'a ExpectedStatuses,
    request: &'a Request,
    tags: &'a TagSet,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // An interrupted request is recorded by its tags alone (no duration, no lag), so it
        // needs no clock read of its start on every request.
        let resp = Response::failure(
            self.request,
            RequestError::interrupted(),
            Timings::default(),
            Duration::ZERO,
        );
        self.recorder.record_interrupted(
            &mut self.metrics.borrow_mut(),
            &resp,
            self.tags,
            Some(self.expected),
        );
    }
}

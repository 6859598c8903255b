//! The LLM VU: one client, one stream at a time; each iteration sends the run's next prompt,
//! reads the answer as it arrives and records the `llm_*` metrics.

use crate::metrics::LlmMetrics;
use crate::reader::{count_tokens, StreamReader, TokenSource};
use crate::request::{Prompts, RequestSpec};
use crate::slo::Slo;
use crate::tally::Tally;
use brunt_engine::{IterationCtx, IterationOutcome, Vu, VuError, VuFactory, VuInit, WorkerMetrics};
use brunt_http::{Client, ClientConfig};
use std::sync::Arc;
use std::time::Instant;
use tokenizers::Tokenizer;

pub(crate) struct LlmFactory {
    pub spec: RequestSpec,
    pub prompts: Prompts,
    pub config: ClientConfig,
    pub metrics: LlmMetrics,
    pub slo: Option<Slo>,
    pub tally: Arc<Tally>,
    pub tokenizer: Option<Arc<Tokenizer>>,
}

pub(crate) struct LlmVu {
    factory: Arc<LlmFactory>,
    client: Client,
    metrics: WorkerMetrics,
}

/// The factory is shared by the VUs through an `Arc` of its own.
pub(crate) struct Shared(pub Arc<LlmFactory>);

impl VuFactory for Shared {
    type Vu = LlmVu;
    /// A client only: an open-model run starts a late request on a new VU instead of dropping it.
    const CHEAP_INIT: bool = true;

    fn create(&self, init: VuInit) -> Result<LlmVu, VuError> {
        let client = Client::new(self.0.config.clone()).map_err(|e| VuError(e.to_string()))?;
        Ok(LlmVu {
            factory: self.0.clone(),
            client,
            metrics: init.metrics,
        })
    }
}

impl Vu for LlmVu {
    async fn iteration(&mut self, ctx: &IterationCtx) -> IterationOutcome {
        let f = &*self.factory;
        let prompt = f.prompts.get(ctx.iteration_in_test());
        let Ok(req) = f.spec.request(&prompt) else {
            // The spec was checked with a first request before the run: this cannot differ.
            return IterationOutcome::Failed;
        };
        let mut reader =
            StreamReader::new(Instant::now(), f.spec.stream).counting_with(f.tokenizer.clone());
        let resp = self.client.send_streaming(&req, &mut reader).await;
        let mut measured = reader.finish(&resp);
        // Without usage, the tokenizer counts the prompt's tokens too (its text, without a chat
        // template).
        if let (TokenSource::Tokenizer, Some(t)) = (measured.source, &f.tokenizer) {
            measured.input_tokens = count_tokens(t, &prompt.text());
        }
        let met = f.slo.as_ref().is_some_and(|s| s.met_by(&measured));
        f.metrics.record(
            &mut self.metrics.borrow_mut(),
            &ctx.scenario.tags,
            &measured,
            met,
        );
        f.tally.add(&measured);
        if measured.failure.is_some() {
            IterationOutcome::Failed
        } else {
            IterationOutcome::Completed
        }
    }
}

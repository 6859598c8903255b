//! The `llm_*` metrics, registered as brunt metrics so that the summary, outputs and thresholds
//! treat them as any other, and what one request adds to them. Definitions: docs/llm.md.

use crate::reader::{Failure, Measured};
use brunt_metrics::{Aggregator, MetricId, MetricType, Registry, RegistryError, TagSet, ValueType};

/// The ids of the `llm_*` metrics in one run's registry.
#[derive(Debug, Clone, Copy)]
pub struct LlmMetrics {
    ttft: MetricId,
    tpot: MetricId,
    itl: MetricId,
    e2e: MetricId,
    output_tokens: MetricId,
    input_tokens: MetricId,
    output_tokens_per_second: MetricId,
    requests: MetricId,
    goodput: MetricId,
    remaining_requests: MetricId,
    remaining_tokens: MetricId,
    headroom: MetricId,
}

impl LlmMetrics {
    /// Registers them; fails when a name is taken by a metric of another type (a script's own).
    pub fn register(registry: &Registry) -> Result<Self, RegistryError> {
        let reg = |name: &str, t: MetricType, v: ValueType| registry.register(name, t, v);
        Ok(LlmMetrics {
            ttft: reg("llm_ttft", MetricType::Trend, ValueType::Time)?,
            tpot: reg("llm_tpot", MetricType::Trend, ValueType::Time)?,
            itl: reg("llm_itl", MetricType::Trend, ValueType::Time)?,
            e2e: reg("llm_e2e", MetricType::Trend, ValueType::Time)?,
            output_tokens: reg("llm_output_tokens", MetricType::Counter, ValueType::Default)?,
            input_tokens: reg("llm_input_tokens", MetricType::Counter, ValueType::Default)?,
            output_tokens_per_second: reg(
                "llm_output_tokens_per_second",
                MetricType::Trend,
                ValueType::Default,
            )?,
            requests: reg("llm_requests", MetricType::Counter, ValueType::Default)?,
            goodput: reg("llm_goodput", MetricType::Counter, ValueType::Default)?,
            remaining_requests: reg(
                "llm_ratelimit_remaining_requests",
                MetricType::Trend,
                ValueType::Default,
            )?,
            remaining_tokens: reg(
                "llm_ratelimit_remaining_tokens",
                MetricType::Trend,
                ValueType::Default,
            )?,
            headroom: reg(
                "llm_ratelimit_headroom",
                MetricType::Trend,
                ValueType::Default,
            )?,
        })
    }

    /// Adds one request: `llm_requests` tagged `outcome` (`ok` or the failure's cause, and
    /// `status` for an HTTP status), the rate-limit headroom its response reported (whatever the
    /// outcome), and for a success its timings and tokens, and `llm_goodput` when it met every
    /// SLO.
    pub fn record(&self, agg: &mut Aggregator, tags: &TagSet, m: &Measured, met_slo: bool) {
        let outcome = m.failure.as_ref().map_or("ok", |f| f.cause());
        // An HTTP status failure also says which status, for the report's failures by cause.
        let status = matches!(m.failure, Some(Failure::Status(..))).then(|| m.status.to_string());
        let outcome_tags = tags.with(
            [("outcome", outcome)]
                .into_iter()
                .chain(status.as_deref().map(|s| ("status", s))),
        );
        agg.add(self.requests, &outcome_tags, 1.0);
        if let Some(b) = m.headroom.requests {
            agg.add(self.remaining_requests, tags, b.remaining);
        }
        if let Some(b) = m.headroom.tokens {
            agg.add(self.remaining_tokens, tags, b.remaining);
        }
        if let Some(share) = m.headroom.share() {
            agg.add(self.headroom, tags, share);
        }
        if m.failure.is_some() {
            return;
        }
        agg.add(self.e2e, tags, m.e2e_ms);
        agg.add(self.output_tokens, tags, m.output_tokens as f64);
        if let Some(n) = m.input_tokens {
            agg.add(self.input_tokens, tags, n as f64);
        }
        if m.e2e_ms > 0.0 {
            agg.add(
                self.output_tokens_per_second,
                tags,
                m.output_tokens as f64 / (m.e2e_ms / 1000.0),
            );
        }
        if let Some(ttft) = m.ttft_ms {
            agg.add(self.ttft, tags, ttft);
        }
        if let Some(tpot) = m.tpot_ms() {
            agg.add(self.tpot, tags, tpot);
        }
        for &itl in &m.itl_ms {
            agg.add(self.itl, tags, itl);
        }
        if met_slo {
            agg.add(self.goodput, tags, 1.0);
        }
    }
}

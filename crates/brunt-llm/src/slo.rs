//! `--slo`: the bounds a request must meet to count toward goodput, e.g.
//! `ttft:p(95)<500ms,tpot:p(95)<50ms,e2e:p(99)<10s`. The statistic names the run's target; a
//! request meets a bound when its own value is under it (for `itl`, every one of its gaps).

use crate::reader::Measured;
use anyhow::{anyhow, bail, Result};
use brunt_engine::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Ttft,
    Tpot,
    Itl,
    E2e,
}

impl Measure {
    fn metric(self) -> &'static str {
        match self {
            Measure::Ttft => "llm_ttft",
            Measure::Tpot => "llm_tpot",
            Measure::Itl => "llm_itl",
            Measure::E2e => "llm_e2e",
        }
    }
}

/// One bound of `--slo`: the measure, the statistic the run is held to, and the bound in ms.
#[derive(Debug, Clone)]
struct Bound {
    measure: Measure,
    stat: String,
    ms: f64,
}

/// Every bound of `--slo`.
#[derive(Debug, Clone, Default)]
pub struct Slo {
    bounds: Vec<Bound>,
}

impl Slo {
    pub fn parse(spec: &str) -> Result<Slo> {
        let mut bounds = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |why: &str| {
                anyhow!("--slo '{spec}': '{part}' {why}; expected e.g. ttft:p(95)<500ms")
            };
            let (name, rest) = part.split_once(':').ok_or_else(|| err("has no ':'"))?;
            let measure = match name.trim() {
                "ttft" => Measure::Ttft,
                "tpot" => Measure::Tpot,
                "itl" => Measure::Itl,
                "e2e" => Measure::E2e,
                _ => return Err(err("names none of ttft, tpot, itl, e2e")),
            };
            let (stat, bound) = rest.split_once('<').ok_or_else(|| err("has no '<'"))?;
            let stat = stat.trim();
            let percentile = stat
                .strip_prefix("p(")
                .and_then(|p| p.strip_suffix(')'))
                .and_then(|p| p.parse::<f64>().ok());
            if !matches!(stat, "avg" | "min" | "med" | "max")
                && !percentile.is_some_and(|p| (0.0..=100.0).contains(&p))
            {
                return Err(err("has a statistic other than avg, min, med, max or p(N)"));
            }
            let bound = bound.trim();
            let ms = match bound.parse::<f64>() {
                Ok(v) => v,
                Err(_) => {
                    parse_duration(bound)
                        .map_err(|_| err("has a bound that is not a duration"))?
                        .as_secs_f64()
                        * 1000.0
                }
            };
            bounds.push(Bound {
                measure,
                stat: stat.to_string(),
                ms,
            });
        }
        if bounds.is_empty() {
            bail!("--slo '{spec}': no bounds");
        }
        Ok(Slo { bounds })
    }

    /// Whether a successful request met every bound (a request without the value, such as
    /// the TPOT of a one-token answer, meets that bound).
    pub fn met_by(&self, m: &Measured) -> bool {
        m.failure.is_none()
            && self.bounds.iter().all(|b| match b.measure {
                Measure::Ttft => m.ttft_ms.is_none_or(|v| v < b.ms),
                Measure::Tpot => m.tpot_ms().is_none_or(|v| v < b.ms),
                Measure::Itl => m.itl_ms.iter().all(|&v| v < b.ms),
                Measure::E2e => m.e2e_ms < b.ms,
            })
    }

    /// The run-level targets, e.g. `("llm_ttft", "p(95)", 500.0)`: what a sweep step is held to.
    pub fn targets(&self) -> impl Iterator<Item = (&'static str, &str, f64)> + '_ {
        self.bounds
            .iter()
            .map(|b| (b.measure.metric(), b.stat.as_str(), b.ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::TokenSource;

    #[test]
    fn a_request_meets_the_slo_when_each_of_its_values_is_under_the_bound() {
        let slo = Slo::parse("ttft:p(95)<500ms, tpot:p(95)<50,e2e:p(99)<10s").unwrap();
        let mut m = Measured {
            failure: None,
            status: 200,
            text: String::new(),
            chunks: 41,
            ttft_ms: Some(400.0),
            e2e_ms: 2000.0,
            itl_ms: vec![],
            chunk_gaps_ms: vec![],
            last_token_ms: Some(1990.0),
            output_tokens: 41,
            input_tokens: None,
            source: TokenSource::Usage,
            headroom: Default::default(),
        };
        assert!(slo.met_by(&m));
        m.ttft_ms = Some(600.0);
        assert!(!slo.met_by(&m));
        for bad in [
            "ttfb:p(95)<1s",
            "ttft<1s",
            "ttft:p(95)>1s",
            "ttft:p95<1s",
            "ttft:p(101)<1s",
            "ttft:p(95)<soon",
            "",
        ] {
            assert!(Slo::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Rate-limit headroom: what a response's headers say of the budget left, in the three forms
//! servers send: OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, Anthropic's
//! `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, and the IETF draft's
//! `RateLimit: "name";r=R;t=T` with `RateLimit-Policy: "name";q=Q;w=W` (or the older separate
//! `RateLimit-Limit`/`-Remaining`/`-Reset`), which counts as the requests budget. Plus the
//! `retry-after` of a 429, in seconds.

use http::HeaderMap;

/// One budget as a response reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub remaining: f64,
    pub limit: Option<f64>,
}

impl Budget {
    /// remaining / limit, when the limit is known and positive.
    pub fn share(&self) -> Option<f64> {
        self.limit.filter(|l| *l > 0.0).map(|l| self.remaining / l)
    }
}

/// What one response said of the rate limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Headroom {
    pub requests: Option<Budget>,
    pub tokens: Option<Budget>,
    /// `retry-after` in seconds (the delay form; an HTTP date is not read).
    pub retry_after: Option<f64>,
}

impl Headroom {
    pub fn read(headers: &HeaderMap) -> Headroom {
        let num = |name: &str| -> Option<f64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        let budget = |remaining: &str, limit: &str| {
            num(remaining).map(|remaining| Budget {
                remaining,
                limit: num(limit),
            })
        };
        let requests = budget(
            "x-ratelimit-remaining-requests",
            "x-ratelimit-limit-requests",
        )
        .or_else(|| {
            budget(
                "anthropic-ratelimit-requests-remaining",
                "anthropic-ratelimit-requests-limit",
            )
        })
        .or_else(|| ietf(headers))
        .or_else(|| budget("ratelimit-remaining", "ratelimit-limit"));
        let tokens =
            budget("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens").or_else(|| {
                budget(
                    "anthropic-ratelimit-tokens-remaining",
                    "anthropic-ratelimit-tokens-limit",
                )
            });
        Headroom {
            requests,
            tokens,
            retry_after: num("retry-after"),
        }
    }

    /// The lower remaining share of the two budgets.
    pub fn share(&self) -> Option<f64> {
        [self.requests, self.tokens]
            .into_iter()
            .flatten()
            .filter_map(|b| b.share())
            .reduce(f64::min)
    }
}

/// The IETF draft's structured `RateLimit` (remaining `r`) and `RateLimit-Policy` (quota `q`),
/// the first item of each.
fn ietf(headers: &HeaderMap) -> Option<Budget> {
    let param = |name: &str, key: &str| -> Option<f64> {
        let value = headers.get(name)?.to_str().ok()?;
        let first = value.split(',').next()?;
        first.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse().ok())?
        })
    };
    // The older drafts' `RateLimit: limit=..., remaining=...` has no `r`: left to the fallback.
    let remaining = param("ratelimit", "r")?;
    Some(Budget {
        remaining,
        limit: param("ratelimit-policy", "q"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn each_form_of_the_headers_is_read() {
        let openai = Headroom::read(&headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "15"),
            ("x-ratelimit-limit-tokens", "1000"),
            ("x-ratelimit-remaining-tokens", "900"),
            ("retry-after", "3"),
        ]));
        assert_eq!(openai.share(), Some(0.25));
        assert_eq!(openai.tokens.unwrap().remaining, 900.0);
        assert_eq!(openai.retry_after, Some(3.0));
        let anthropic = Headroom::read(&headers(&[
            ("anthropic-ratelimit-tokens-limit", "100"),
            ("anthropic-ratelimit-tokens-remaining", "10"),
        ]));
        assert_eq!(anthropic.share(), Some(0.1));
        assert_eq!(anthropic.requests, None);
        let ietf = Headroom::read(&headers(&[
            ("ratelimit", "\"default\";r=50;t=30"),
            ("ratelimit-policy", "\"default\";q=200;w=60"),
        ]));
        assert_eq!(ietf.share(), Some(0.25));
        let old = Headroom::read(&headers(&[
            ("ratelimit-limit", "10"),
            ("ratelimit-remaining", "5"),
        ]));
        assert_eq!(old.share(), Some(0.5));
        let none = Headroom::read(&headers(&[(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        )]));
        assert_eq!(none, Headroom::default());
    }
}

//! The request builder: the endpoint's URL, the JSON body of each request (OpenAI's chat or
//! completions shape) and the prompts it carries, from a dataset file or made up to a length.

use anyhow::{anyhow, bail, Context, Result};
use brunt_http::Request;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Which OpenAI API the requests go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// `/v1/chat/completions` with `messages`.
    Chat,
    /// `/v1/completions` with `prompt`.
    Completions,
}

/// One prompt: chat messages or plain text, with its length in words when known (made-up
/// prompts), which stands for the input tokens when the server sends no usage.
#[derive(Debug, Clone)]
pub enum Prompt {
    Messages(Value),
    Text(String),
}

/// Where the prompts come from.
#[derive(Debug, Clone)]
pub enum Prompts {
    /// Read from a dataset file, used in turn.
    Listed(Vec<Prompt>),
    /// Made up: words drawn with the seed and the request's number, so a run's prompt sequence
    /// is the same every time.
    Synthetic { mean: u32, stddev: u32, seed: u64 },
}

/// The words made-up prompts are drawn from.
const WORDS: [&str; 16] = [
    "load", "test", "stream", "token", "model", "latency", "prompt", "answer", "server", "request",
    "queue", "batch", "cache", "token", "gateway", "budget",
];

impl Prompt {
    /// The prompt as one text: chat messages' contents joined by newlines.
    pub fn text(&self) -> String {
        match self {
            Prompt::Text(t) => t.clone(),
            Prompt::Messages(m) => m
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("content").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl Prompts {
    /// The prompt of request number `n` (0-based, across the whole run).
    pub fn get(&self, n: u64) -> Prompt {
        match self {
            Prompts::Listed(list) => list[(n % list.len() as u64) as usize].clone(),
            Prompts::Synthetic { mean, stddev, seed } => {
                let mut rng = SmallRng::seed_from_u64(
                    seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                );
                let len = if *stddev == 0 {
                    *mean as f64
                } else {
                    // Box-Muller: one normal draw.
                    let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
                    *mean as f64
                        + *stddev as f64
                            * (-2.0 * u1.ln()).sqrt()
                            * (2.0 * std::f64::consts::PI * u2).cos()
                };
                let len = len.round().max(1.0) as usize;
                let words: Vec<&str> = (0..len)
                    .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                    .collect();
                Prompt::Text(words.join(" "))
            }
        }
    }

    /// Reads a dataset: ShareGPT JSON (an array of `{"conversations": [{"from": "human",
    /// "value": ...}, ...]}`, the first human turn of each) or JSONL with one `{"prompt": "..."}`
    /// or `{"messages": [...]}` per line. Errors name the file and line.
    pub fn from_file(path: &Path) -> Result<Prompts> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--dataset {shown}: cannot read the file"))?;
        let list = if text.trim_start().starts_with('[') {
            sharegpt(&text).with_context(|| format!("--dataset {shown}"))?
        } else {
            let mut list = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let doc: Value = serde_json::from_str(line)
                    .map_err(|e| anyhow!("--dataset {shown}, line {}: {e}", i + 1))?;
                list.push(match (doc.get("messages"), doc.get("prompt")) {
                    (Some(m @ Value::Array(_)), _) => Prompt::Messages(m.clone()),
                    (_, Some(Value::String(p))) => Prompt::Text(p.clone()),
                    _ => bail!("--dataset {shown}, line {}: expected {{\"prompt\": \"...\"}} or {{\"messages\": [...]}}", i + 1),
                });
            }
            list
        };
        if list.is_empty() {
            bail!("--dataset {shown}: no prompts in the file");
        }
        Ok(Prompts::Listed(list))
    }
}

fn sharegpt(text: &str) -> Result<Vec<Prompt>> {
    let doc: Value = serde_json::from_str(text).map_err(|e| anyhow!("not ShareGPT JSON: {e}"))?;
    let mut list = Vec::new();
    for (i, entry) in doc.as_array().into_iter().flatten().enumerate() {
        let turns = entry
            .get("conversations")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("entry {i}: no \"conversations\" array"))?;
        let human = turns
            .iter()
            .find(|t| t.get("from").and_then(Value::as_str) == Some("human"));
        if let Some(p) = human.and_then(|t| t.get("value")).and_then(Value::as_str) {
            list.push(Prompt::Text(p.to_string()));
        }
    }
    Ok(list)
}

/// Everything of a request but its prompt.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub url: String,
    pub api: Api,
    pub model: String,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub ignore_eos: bool,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

impl RequestSpec {
    /// The endpoint: `URL` as given when it names one (`.../completions`), else the API's path
    /// under it (`/v1` added unless `URL` ends with it).
    pub fn endpoint(base: &str, api: Api) -> String {
        let base = base.trim_end_matches('/');
        if base.ends_with("/completions") {
            return base.to_string();
        }
        let path = match api {
            Api::Chat => "/chat/completions",
            Api::Completions => "/completions",
        };
        if base.ends_with("/v1") {
            format!("{base}{path}")
        } else {
            format!("{base}/v1{path}")
        }
    }

    /// The body for `prompt`, as OpenAI's API reads it.
    pub fn body(&self, prompt: &Prompt) -> Value {
        let mut body = json!({"model": self.model, "stream": self.stream});
        match (self.api, prompt) {
            (Api::Chat, Prompt::Messages(m)) => body["messages"] = m.clone(),
            (Api::Chat, Prompt::Text(t)) => {
                body["messages"] = json!([{"role": "user", "content": t}])
            }
            (Api::Completions, p) => body["prompt"] = json!(p.text()),
        }
        if self.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if self.ignore_eos {
            body["ignore_eos"] = json!(true);
        }
        body
    }

    /// The HTTP request for `prompt`.
    pub fn request(&self, prompt: &Prompt) -> Result<Request> {
        let mut req = Request::new(http::Method::POST, &self.url)
            .map_err(|e| anyhow!("URL '{}': {}", self.url, e.message))?;
        req.set_header("content-type", "application/json")
            .map_err(|e| anyhow!(e.message))?;
        for (name, value) in &self.headers {
            req.set_header(name, value)
                .map_err(|e| anyhow!("--header '{name}: {value}': {}", e.message))?;
        }
        req.set_body(self.body(prompt).to_string());
        req.timeout = Some(self.timeout);
        req.max_redirects = Some(0);
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_base_url() {
        assert_eq!(
            RequestSpec::endpoint("http://h:1", Api::Chat),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            RequestSpec::endpoint("http://h:1/v1/", Api::Completions),
            "http://h:1/v1/completions"
        );
        assert_eq!(
            RequestSpec::endpoint("http://h/x/chat/completions", Api::Completions),
            "http://h/x/chat/completions"
        );
    }

    #[test]
    fn synthetic_prompts_are_reproducible_and_sized() {
        let p = Prompts::Synthetic {
            mean: 50,
            stddev: 0,
            seed: 7,
        };
        let (Prompt::Text(a), Prompt::Text(b)) = (p.get(3), p.get(3)) else {
            panic!()
        };
        assert_eq!(a, b);
        assert_eq!(a.split_whitespace().count(), 50);
        let spread = Prompts::Synthetic {
            mean: 50,
            stddev: 10,
            seed: 7,
        };
        let lens: Vec<usize> = (0..50)
            .map(|n| match spread.get(n) {
                Prompt::Text(t) => t.split_whitespace().count(),
                Prompt::Messages(_) => 0,
            })
            .collect();
        assert!(lens.iter().any(|&l| l != 50));
    }
}

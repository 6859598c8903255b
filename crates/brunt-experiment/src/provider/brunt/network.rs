//! Timed faults through the fault proxy (`brunt proxy` or Toxiproxy, at the configuration's
//! `toxiproxy_host`/`toxiproxy_port` as for the toxiproxy extension): `toxic` adds any toxic,
//! the HTTP-level ones included, and `partition` disables a proxy; both are removed after
//! `duration`, also when the experiment is interrupted.

use std::time::Duration;

use brunt_chaos::client::{Client, NewToxic, ProxyChanges};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{arguments, seconds};
use crate::provider::toxiproxy::client;
use crate::provider::ActivityFailed;
use crate::runner::Context;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToxicArgs {
    proxy: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    toxicity: Option<f32>,
    #[serde(default)]
    attributes: Value,
    duration: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionArgs {
    proxy: String,
    duration: f64,
}

/// A parsed network fault.
#[derive(Clone, Debug)]
pub enum NetworkFault {
    /// A toxic on a proxy for a while.
    Toxic {
        proxy: String,
        toxic: NewToxic,
        duration: Duration,
    },
    /// A proxy disabled for a while.
    Partition { proxy: String, duration: Duration },
}

impl NetworkFault {
    pub(super) fn parse(func: &str, args: &Value) -> Result<Self, String> {
        if func == "toxic" {
            let a: ToxicArgs = arguments(args)?;
            if let Some(s) = a
                .stream
                .as_deref()
                .filter(|s| !matches!(*s, "upstream" | "downstream"))
            {
                return Err(format!(
                    "arguments.stream: upstream or downstream, not {s:?}"
                ));
            }
            if a.toxicity.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                return Err("arguments.toxicity: between 0 and 1".into());
            }
            let name = a.name.unwrap_or_else(|| format!("brunt-{}", a.kind));
            Ok(NetworkFault::Toxic {
                proxy: a.proxy,
                toxic: NewToxic {
                    name: Some(name),
                    kind: a.kind,
                    stream: a.stream,
                    toxicity: a.toxicity,
                    attributes: a.attributes,
                },
                duration: seconds("duration", a.duration)?,
            })
        } else {
            let a: PartitionArgs = arguments(args)?;
            Ok(NetworkFault::Partition {
                proxy: a.proxy,
                duration: seconds("duration", a.duration)?,
            })
        }
    }

    pub(super) async fn run(&self, ctx: &Context) -> Result<Value, ActivityFailed> {
        let api = client(&ctx.vars().configuration)?;
        let failed = |e: brunt_chaos::client::ClientError| ActivityFailed(e.to_string());
        match self {
            NetworkFault::Toxic {
                proxy,
                toxic,
                duration,
            } => {
                let added = api.add_toxic(proxy, toxic).await.map_err(failed)?;
                let undo = Undo::armed(api, proxy, Some(added.name.clone()));
                tokio::time::sleep(*duration).await;
                undo.now().await.map_err(failed)?;
                Ok(
                    json!({"proxy": proxy, "toxic": added.name, "type": added.kind,
                          "duration": duration.as_secs_f64()}),
                )
            }
            NetworkFault::Partition { proxy, duration } => {
                api.update_proxy(proxy, &enabled(false))
                    .await
                    .map_err(failed)?;
                let undo = Undo::armed(api, proxy, None);
                tokio::time::sleep(*duration).await;
                undo.now().await.map_err(failed)?;
                Ok(json!({"proxy": proxy, "partitioned": duration.as_secs_f64()}))
            }
        }
    }
}

fn enabled(on: bool) -> ProxyChanges {
    ProxyChanges {
        listen: None,
        upstream: None,
        enabled: Some(on),
    }
}

/// Removes a toxic (or re-enables a proxy when there is none) at the end of the fault; when the
/// activity is dropped before that (the experiment was interrupted), does it on a thread of its
/// own, because a drop cannot wait on the runner's event loop.
struct Undo {
    api: Client,
    proxy: String,
    toxic: Option<String>,
    armed: bool,
}

impl Undo {
    fn armed(api: Client, proxy: &str, toxic: Option<String>) -> Self {
        Undo {
            api,
            proxy: proxy.to_string(),
            toxic,
            armed: true,
        }
    }

    async fn now(mut self) -> Result<(), brunt_chaos::client::ClientError> {
        self.armed = false;
        undo(&self.api, &self.proxy, self.toxic.as_deref()).await
    }
}

async fn undo(
    api: &Client,
    proxy: &str,
    toxic: Option<&str>,
) -> Result<(), brunt_chaos::client::ClientError> {
    match toxic {
        Some(name) => api.remove_toxic(proxy, name).await,
        None => api.update_proxy(proxy, &enabled(true)).await.map(|_| ()),
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (api, proxy, toxic) = (self.api.clone(), self.proxy.clone(), self.toxic.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(undo(&api, &proxy, toxic.as_deref()))
                .map_err(|e| e.to_string())
        })
        .join();
        if let Ok(Err(e)) = done {
            tracing::warn!("cannot undo the fault on proxy {}: {e}", self.proxy);
        }
    }
}

//! The set of proxies and every operation the API offers on it, with
//! Toxiproxy's validation order, defaults and errors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::metrics::{self, ProxyLabels};
use crate::model::{Toxic, ToxicEntry, ToxicView};
use crate::proxy::Proxy;
use crate::toxics::{probability, Direction, KindError, ToxicKind};

/// A proxy as given to create, update or populate (and in a `--config` file).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProxyInput {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
    /// Only a `--config` file applies these (Toxiproxy ignores them everywhere).
    pub toxics: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct ToxicInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    stream: Option<String>,
    toxicity: Option<f32>,
    attributes: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ToxicUpdate {
    toxicity: Option<f32>,
    attributes: Option<Value>,
}

pub(crate) struct Collection {
    proxies: Mutex<BTreeMap<String, Proxy>>,
    seed: u64,
    next_uid: AtomicU64,
}

/// Decodes the first JSON value of a body, ignoring what follows, as Go's decoder does.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match serde_json::Deserializer::from_slice(body)
        .into_iter::<T>()
        .next()
    {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(ApiError::bad_request_body(e)),
        None => Err(ApiError::bad_request_body("EOF")),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("views serialize")
}

/// The resolved form of a listen address, for deciding whether a proxy changed.
async fn resolve(listen: &str) -> Result<String, ApiError> {
    Ok(crate::listen::resolve(listen).await?.addr.to_string())
}

impl Collection {
    pub fn new(seed: u64) -> Self {
        Self {
            proxies: Mutex::new(BTreeMap::new()),
            seed,
            next_uid: AtomicU64::new(1),
        }
    }

    pub async fn list(&self) -> String {
        let proxies = self.proxies.lock().await;
        let views: BTreeMap<&str, _> = proxies
            .iter()
            .map(|(k, p)| (k.as_str(), p.view()))
            .collect();
        json(&views)
    }

    pub async fn create(&self, body: &[u8]) -> Result<String, ApiError> {
        let input: ProxyInput = decode(body)?;
        let name = input.name.unwrap_or_default();
        let upstream = input.upstream.unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::missing_field("name"));
        }
        if upstream.is_empty() {
            return Err(ApiError::missing_field("upstream"));
        }
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&name) {
            return Err(ApiError::proxy_exists());
        }
        let mut proxy = Proxy::new(name.clone(), input.listen.unwrap_or_default(), upstream);
        if input.enabled.unwrap_or(true) {
            proxy.start(self.seed).await?;
        }
        let out = json(&proxy.view());
        proxies.insert(name, proxy);
        Ok(out)
    }

    pub async fn show(&self, name: &str) -> Result<String, ApiError> {
        let proxies = self.proxies.lock().await;
        let proxy = proxies.get(name).ok_or_else(ApiError::proxy_not_found)?;
        Ok(json(&proxy.view()))
    }

    pub async fn update(&self, name: &str, body: &[u8]) -> Result<String, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let proxy = proxies
            .get_mut(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        let input: ProxyInput = decode(body)?;
        let listen = input.listen.unwrap_or_else(|| proxy.listen.clone());
        let upstream = input.upstream.unwrap_or_else(|| proxy.upstream.clone());
        let enabled = input.enabled.unwrap_or(proxy.enabled);
        if resolve(&listen).await? != proxy.listen || upstream != proxy.upstream {
            proxy.stop().await;
            proxy.listen = listen;
            proxy.upstream = upstream;
        }
        if enabled != proxy.enabled {
            if enabled {
                proxy.start(self.seed).await?;
            } else {
                proxy.stop().await;
            }
        }
        Ok(json(&proxy.view()))
    }

    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut proxy = proxies.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        proxy.stop().await;
        Ok(())
    }

    /// `POST /populate`: the response body and status (201, or the error's status
    /// with the proxies handled before the error).
    pub async fn populate(&self, body: &[u8]) -> (u16, String) {
        let result = match decode::<Vec<ProxyInput>>(body) {
            Ok(inputs) => self.populate_inputs(inputs, false).await,
            Err(e) => (Vec::new(), Some(e)),
        };
        let (names, error) = result;
        let proxies = self.proxies.lock().await;
        let views: Vec<_> = names
            .iter()
            .filter_map(|n| proxies.get(n))
            .map(|p| p.view())
            .collect();
        // Go writes a nil slice as null.
        let views = (!views.is_empty()).then_some(views);
        let status = error.as_ref().map_or(201, |e| e.status);
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten, skip_serializing_if = "Option::is_none")]
            error: Option<ApiError>,
            proxies: Option<Vec<crate::model::ProxyView<'a>>>,
        }
        (
            status,
            json(&Out {
                error,
                proxies: views,
            }),
        )
    }

    /// Creates, replaces or keeps each proxy (Toxiproxy's populate semantics);
    /// with `apply_toxics`, a created or replaced proxy also gets the toxics listed
    /// with it. Returns the names handled and the first error.
    pub async fn populate_inputs(
        &self,
        inputs: Vec<ProxyInput>,
        apply_toxics: bool,
    ) -> (Vec<String>, Option<ApiError>) {
        for (i, input) in inputs.iter().enumerate() {
            if input.name.as_deref().unwrap_or_default().is_empty() {
                return (
                    Vec::new(),
                    Some(ApiError::missing_field(&format!("name at proxy {}", i + 1))),
                );
            }
            if input.upstream.as_deref().unwrap_or_default().is_empty() {
                return (
                    Vec::new(),
                    Some(ApiError::missing_field(&format!(
                        "upstream at proxy {}",
                        i + 1
                    ))),
                );
            }
        }
        let mut done = Vec::new();
        let mut proxies = self.proxies.lock().await;
        for input in inputs {
            let name = input.name.unwrap_or_default();
            let listen = input.listen.unwrap_or_default();
            let upstream = input.upstream.unwrap_or_default();
            if let Some(existing) = proxies.get_mut(&name) {
                let resolved = match resolve(&listen).await {
                    Ok(r) => r,
                    Err(e) => return (done, Some(e)),
                };
                if resolved == existing.listen && upstream == existing.upstream {
                    done.push(name);
                    continue;
                }
                existing.stop().await;
                proxies.remove(&name);
            }
            let mut proxy = Proxy::new(name.clone(), listen, upstream);
            if input.enabled.unwrap_or(true) {
                if let Err(e) = proxy.start(self.seed).await {
                    return (done, Some(e));
                }
            }
            if apply_toxics {
                for (i, toxic) in input.toxics.unwrap_or_default().into_iter().enumerate() {
                    let body = serde_json::to_vec(&toxic).expect("value serializes");
                    match self.new_toxic(&proxy, &body) {
                        Ok(entry) => proxy.add_toxic(entry),
                        Err(e) => {
                            let e = ApiError::new(
                                format!("proxy {name}, toxic {}: {}", i + 1, e.message),
                                e.status,
                            );
                            proxies.insert(name.clone(), proxy);
                            done.push(name);
                            return (done, Some(e));
                        }
                    }
                }
            }
            proxies.insert(name.clone(), proxy);
            done.push(name);
        }
        (done, None)
    }

    /// `POST /reset`: enables every proxy and removes all toxics.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        for proxy in proxies.values_mut() {
            proxy.start(self.seed).await?;
            proxy.clear_toxics();
        }
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<String, ApiError> {
        let proxies = self.proxies.lock().await;
        let proxy = proxies.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let views: Vec<ToxicView<'_>> = proxy.toxics().map(|t| t.toxic.view()).collect();
        Ok(json(&views))
    }

    pub async fn add_toxic(&self, proxy: &str, body: &[u8]) -> Result<String, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let proxy = proxies
            .get_mut(proxy)
            .ok_or_else(ApiError::proxy_not_found)?;
        let entry = self.new_toxic(proxy, body)?;
        let out = json(&entry.toxic.view());
        proxy.add_toxic(entry);
        Ok(out)
    }

    /// Validates a new toxic in Toxiproxy's order: body, stream, type, name, attributes.
    fn new_toxic(&self, proxy: &Proxy, body: &[u8]) -> Result<ToxicEntry, ApiError> {
        let input: ToxicInput = decode(body)?;
        if let Some(a) = &input.attributes {
            if !a.is_object() && !a.is_null() {
                return Err(ApiError::bad_request_body(
                    "attributes must be a JSON object",
                ));
            }
        }
        let stream = input.stream.unwrap_or_else(|| "downstream".into());
        let direction = Direction::parse(&stream).ok_or_else(ApiError::invalid_stream)?;
        let kind_name = input.kind.unwrap_or_default();
        let name = input
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{kind_name}_{stream}"));
        if !ToxicKind::known(&kind_name) {
            return Err(ApiError::invalid_toxic_type());
        }
        if proxy.find_toxic(&name).is_some() {
            return Err(ApiError::toxic_exists());
        }
        let kind = ToxicKind::parse(&kind_name, input.attributes.as_ref()).map_err(kind_error)?;
        let toxicity = checked_toxicity(input.toxicity.unwrap_or(1.0))?;
        Ok(ToxicEntry {
            uid: self.next_uid.fetch_add(1, Ordering::Relaxed),
            rev: 0,
            toxic: Toxic {
                name,
                stream,
                direction,
                toxicity,
                kind,
            },
        })
    }

    pub async fn show_toxic(&self, proxy: &str, toxic: &str) -> Result<String, ApiError> {
        let proxies = self.proxies.lock().await;
        let proxy = proxies.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let toxic = proxy
            .find_toxic(toxic)
            .ok_or_else(ApiError::toxic_not_found)?;
        Ok(json(&toxic.toxic.view()))
    }

    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        body: &[u8],
    ) -> Result<String, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let proxy = proxies
            .get_mut(proxy)
            .ok_or_else(ApiError::proxy_not_found)?;
        let current = proxy
            .find_toxic(toxic)
            .ok_or_else(ApiError::toxic_not_found)?;
        let input: ToxicUpdate = decode(body)?;
        let kind = current
            .toxic
            .kind
            .merged(input.attributes.as_ref())
            .map_err(kind_error)?;
        let toxicity = checked_toxicity(input.toxicity.unwrap_or(current.toxic.toxicity))?;
        let entry = ToxicEntry {
            uid: current.uid,
            rev: current.rev + 1,
            toxic: Toxic {
                toxicity,
                kind,
                ..current.toxic.clone()
            },
        };
        let out = json(&entry.toxic.view());
        proxy.replace_toxic(entry);
        Ok(out)
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let proxy = proxies
            .get_mut(proxy)
            .ok_or_else(ApiError::proxy_not_found)?;
        if proxy.remove_toxic(toxic) {
            Ok(())
        } else {
            Err(ApiError::toxic_not_found())
        }
    }

    pub async fn metrics(&self) -> String {
        let proxies = self.proxies.lock().await;
        let labels: Vec<_> = proxies
            .values()
            .map(|p| ProxyLabels {
                name: &p.name,
                listen: &p.listen,
                upstream: &p.upstream,
                counters: &p.counters,
            })
            .collect();
        metrics::render(&labels)
    }

    /// Stops every proxy.
    pub async fn shutdown(&self) {
        let mut proxies = self.proxies.lock().await;
        for proxy in proxies.values_mut() {
            proxy.stop().await;
        }
    }
}

/// Toxiproxy takes any toxicity; 7 or -1 would silently mean "always" or "never".
fn checked_toxicity(toxicity: f32) -> Result<f32, ApiError> {
    probability("toxicity", toxicity).map_err(ApiError::bad_request_body)?;
    Ok(toxicity)
}

fn kind_error(e: KindError) -> ApiError {
    match e {
        KindError::UnknownType => ApiError::invalid_toxic_type(),
        KindError::Attributes(msg) => ApiError::bad_request_body(msg),
    }
}

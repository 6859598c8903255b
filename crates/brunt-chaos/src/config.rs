//! `--config FILE`: Toxiproxy's JSON array of proxies, applied at start-up. Unlike
//! Toxiproxy, the `toxics` listed with each proxy are applied too, and a bad file
//! stops the start with an error naming the file and place.

use std::path::{Path, PathBuf};

use crate::collection::{Collection, ProxyInput};

/// Why a config file could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a JSON array of proxies.
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A proxy or toxic in the file was refused.
    #[error("config file {path}: {message}")]
    Apply {
        /// The file.
        path: PathBuf,
        /// The API's error message.
        message: String,
    },
}

/// Reads and applies a config file; returns how many proxies it holds.
pub(crate) async fn load(collection: &Collection, path: &Path) -> Result<usize, ConfigError> {
    let text = tokio::fs::read(path)
        .await
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let inputs: Vec<ProxyInput> =
        serde_json::from_slice(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .trim_end_matches(&format!(" at line {} column {}", e.line(), e.column()))
                .to_string(),
        })?;
    let (done, error) = collection.populate_inputs(inputs, true).await;
    match error {
        Some(e) => Err(ConfigError::Apply {
            path: path.to_path_buf(),
            message: e.message,
        }),
        None => Ok(done.len()),
    }
}

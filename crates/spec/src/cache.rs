//! The local copy of a downloaded spec, with the validators (`ETag`, `Last-Modified`) that
//! let the next download ask "changed since?". Both files are replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the server said identifies the cached copy, sent back as `If-None-Match` and
/// `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header of the cached copy's response.
    pub etag: Option<String>,
    /// The `Last-Modified` header of the cached copy's response.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is anything to ask a conditional request with.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// The cached copy of one URL's spec in a cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    body: PathBuf,
    validators: PathBuf,
}

impl Cache {
    /// The cache files for `url` in `dir`: named by a hash of the URL.
    pub fn for_url(dir: &Path, url: &str) -> Cache {
        let digest = Sha256::digest(url.as_bytes());
        let hash: String = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let body = dir.join(format!("spec-{hash}"));
        Cache {
            validators: body.with_extension("validators.json"),
            body,
        }
    }

    /// The cached document file.
    pub fn path(&self) -> &Path {
        &self.body
    }

    /// Whether a cached copy exists.
    pub async fn exists(&self) -> bool {
        tokio::fs::try_exists(&self.body).await.unwrap_or(false)
    }

    /// The cached copy's bytes.
    pub async fn read(&self) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(&self.body).await
    }

    /// The cached copy's validators; none when there is no copy or they cannot be read.
    pub async fn validators(&self) -> Validators {
        if !self.exists().await {
            return Validators::default();
        }
        match tokio::fs::read(&self.validators).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Validators::default(),
        }
    }

    /// Replaces the cached copy with `bytes` and their validators, each file atomically.
    pub async fn store(&self, bytes: &[u8], validators: &Validators) -> std::io::Result<()> {
        if let Some(dir) = self.body.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let encoded = serde_json::to_vec(validators).map_err(std::io::Error::other)?;
        replace(&self.body, bytes).await?;
        replace(&self.validators, &encoded).await
    }
}

/// Writes `bytes` to `path` atomically: to a temporary file first, then renamed over it.
async fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(name);
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

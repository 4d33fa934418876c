//! The local copy of a downloaded spec, with its HTTP cache policy (the response's headers, as
//! `http-cache-semantics` keeps them) that says whether the copy is still fresh and how the next
//! download asks "changed since?". Both files are replaced atomically.

use std::path::{Path, PathBuf};

use http_cache_semantics::CachePolicy;
use sha2::{Digest, Sha256};

/// The cached copy of one URL's spec in a cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    body: PathBuf,
    policy: PathBuf,
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
            policy: body.with_extension("policy.json"),
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

    /// The cached copy's cache policy; none when there is no copy or it cannot be read.
    pub async fn policy(&self) -> Option<CachePolicy> {
        if !self.exists().await {
            return None;
        }
        let bytes = tokio::fs::read(&self.policy).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Replaces the cached copy with `bytes` and their cache policy, each file atomically.
    pub async fn store(&self, bytes: &[u8], policy: &CachePolicy) -> std::io::Result<()> {
        if let Some(dir) = self.body.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        replace(&self.body, bytes).await?;
        self.store_policy(policy).await
    }

    /// Replaces the cache policy alone: a revalidation kept the copy and renewed its headers.
    pub async fn store_policy(&self, policy: &CachePolicy) -> std::io::Result<()> {
        let encoded = serde_json::to_vec(policy).map_err(std::io::Error::other)?;
        replace(&self.policy, &encoded).await
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

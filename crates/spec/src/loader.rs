//! Loads a spec from its source. A download replaces the cached copy only once it has parsed
//! and resolved, so a bad answer (an HTML error page with status 200, a truncated body) never
//! poisons the cache; the cached copy stands in while the source cannot give a usable spec.

use std::fmt;
use std::path::{Path, PathBuf};

use http_cache_semantics::CachePolicy;

use crate::cache::Cache;
use crate::error::SpecError;
use crate::source::{
    CONNECT_TIMEOUT, CONNECT_TIMEOUT_WITH_CACHE, Download, Freshness, ProgressReport, SpecSource,
    download,
};
use crate::spec::Spec;

/// Loads one source's spec, through the cache in `cache_dir` when the source is a URL.
#[derive(Clone)]
pub struct SpecLoader {
    source: SpecSource,
    cache_dir: PathBuf,
    progress: Option<ProgressReport>,
}

/// A spec and where its bytes came from.
#[derive(Debug)]
pub struct Loaded {
    /// The spec.
    pub spec: Spec,
    /// Where it came from.
    pub origin: Origin,
}

/// Where a loaded spec's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A local file.
    File,
    /// A fresh download, now also the cached copy.
    Downloaded,
    /// The cached copy, which the server said is current (a 304).
    Unchanged,
    /// The cached copy, fresh by the lifetime the server gave it: no request was sent.
    Fresh,
    /// The cached copy, because the source gave no usable spec.
    Cached {
        /// Why the source's answer was not used.
        reason: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File => f.write_str("file"),
            Origin::Downloaded => f.write_str("downloaded"),
            Origin::Unchanged => f.write_str("cache (the server said unchanged)"),
            Origin::Fresh => f.write_str("cache (fresh, not asked)"),
            Origin::Cached { reason } => write!(f, "cache (source unusable: {reason})"),
        }
    }
}

impl SpecLoader {
    /// A loader for `source`, caching downloads in `cache_dir`.
    pub fn new(source: SpecSource, cache_dir: PathBuf) -> SpecLoader {
        SpecLoader {
            source,
            cache_dir,
            progress: None,
        }
    }

    /// Sends download progress to `report`.
    #[must_use]
    pub fn with_progress(mut self, report: ProgressReport) -> SpecLoader {
        self.progress = Some(report);
        self
    }

    /// The source this loader reads.
    pub fn source(&self) -> &SpecSource {
        &self.source
    }

    /// Loads the spec, using the cached copy when the download fails or does not load.
    pub async fn load(&self) -> Result<Loaded, SpecError> {
        let url = match &self.source {
            SpecSource::File(path) => {
                let spec = read_file(path).await?;
                return Ok(Loaded {
                    spec,
                    origin: Origin::File,
                });
            }
            SpecSource::Url(url) => url,
        };
        let cache = Cache::for_url(&self.cache_dir, url);
        let (policy, connect_timeout) = if cache.exists().await {
            (cache.policy().await, CONNECT_TIMEOUT_WITH_CACHE)
        } else {
            (None, CONNECT_TIMEOUT)
        };
        let progress = self.progress.as_ref();
        let first = download(
            url,
            policy.as_ref(),
            Freshness::Allowed,
            connect_timeout,
            progress,
        );
        let downloaded = match first.await {
            Ok(kept @ (Download::NotModified { .. } | Download::Fresh)) => {
                match from_cache(&cache).await {
                    Ok(spec) => {
                        let origin = match kept {
                            Download::NotModified { policy } => {
                                renew(&cache, &policy).await;
                                Origin::Unchanged
                            }
                            _ => Origin::Fresh,
                        };
                        return Ok(Loaded { spec, origin });
                    }
                    Err(_) => {
                        download(url, None, Freshness::Allowed, connect_timeout, progress).await
                    }
                }
            }
            other => other,
        };
        let failure = match downloaded {
            Ok(Download::Modified { bytes, policy }) => {
                match keep_if_loads(&cache, url, bytes, &policy).await {
                    Ok(spec) => {
                        return Ok(Loaded {
                            spec,
                            origin: Origin::Downloaded,
                        });
                    }
                    Err(error) => error,
                }
            }
            Ok(Download::NotModified { .. } | Download::Fresh) => SpecError::Fetch {
                url: url.clone(),
                reason: "the server said an unreadable cached copy is current".to_string(),
                cache_dir: self.cache_dir.clone(),
            },
            Err(reason) => SpecError::Fetch {
                url: url.clone(),
                reason,
                cache_dir: self.cache_dir.clone(),
            },
        };
        let reason = match &failure {
            SpecError::Fetch { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        match from_cache(&cache).await {
            Ok(spec) => {
                tracing::warn!(url, %reason, path = %cache.path().display(), "could not use the spec's source; using the cached copy");
                Ok(Loaded {
                    spec,
                    origin: Origin::Cached { reason },
                })
            }
            Err(_) => Err(failure),
        }
    }

    /// Loads the spec again if it changed: `None` when the server says the cached copy is
    /// current. It always asks the server, even while the copy is fresh. Unlike [`SpecLoader::load`], a failure is an error: the caller keeps the spec
    /// it has.
    pub async fn reload(&self) -> Result<Option<Spec>, SpecError> {
        let url = match &self.source {
            SpecSource::File(path) => return read_file(path).await.map(Some),
            SpecSource::Url(url) => url,
        };
        let cache = Cache::for_url(&self.cache_dir, url);
        let policy = cache.policy().await;
        let progress = self.progress.as_ref();
        let revalidated = download(
            url,
            policy.as_ref(),
            Freshness::Revalidate,
            CONNECT_TIMEOUT_WITH_CACHE,
            progress,
        );
        match revalidated.await {
            Ok(Download::NotModified { policy }) => {
                renew(&cache, &policy).await;
                Ok(None)
            }
            Ok(Download::Fresh) => Ok(None),
            Ok(Download::Modified { bytes, policy }) => {
                keep_if_loads(&cache, url, bytes, &policy).await.map(Some)
            }
            Err(reason) => Err(SpecError::Unreachable {
                url: url.clone(),
                reason,
            }),
        }
    }
}

/// A spec file, parsed.
async fn read_file(path: &Path) -> Result<Spec, SpecError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    parse(bytes).await.1
}

/// Parses and resolves a download, and only then makes it the cached copy.
async fn keep_if_loads(
    cache: &Cache,
    url: &str,
    bytes: Vec<u8>,
    policy: &CachePolicy,
) -> Result<Spec, SpecError> {
    let (bytes, parsed) = parse(bytes).await;
    let spec = parsed.map_err(|error| SpecError::Downloaded {
        url: url.to_string(),
        error: Box::new(error),
    })?;
    if let Err(error) = cache.store(&bytes, policy).await {
        tracing::warn!(path = %cache.path().display(), %error, "could not cache the downloaded spec");
    }
    Ok(spec)
}

/// Keeps the renewed policy of a copy the server said is current; a failure only costs a
/// full download next time.
async fn renew(cache: &Cache, policy: &CachePolicy) {
    if let Err(error) = cache.store_policy(policy).await {
        tracing::warn!(path = %cache.path().display(), %error, "could not renew the cached spec's policy");
    }
}

/// The cached copy, parsed.
async fn from_cache(cache: &Cache) -> Result<Spec, SpecError> {
    let bytes = cache.read().await.map_err(|source| SpecError::Read {
        path: cache.path().to_path_buf(),
        source,
    })?;
    parse(bytes).await.1
}

/// Parses and resolves `bytes` off the async runtime, handing them back.
async fn parse(bytes: Vec<u8>) -> (Vec<u8>, Result<Spec, SpecError>) {
    tokio::task::spawn_blocking(move || {
        let parsed = Spec::from_bytes(&bytes);
        (bytes, parsed)
    })
    .await
    .unwrap_or_else(|_| (Vec::new(), Err(SpecError::Stopped)))
}

//! Where a spec comes from: a local file, or a URL downloaded through a local cache that
//! stands in when the download fails.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::error::SpecError;

/// Cloudflare's published OpenAPI spec, the default source.
pub const CLOUDFLARE_SPEC_URL: &str =
    "https://raw.githubusercontent.com/cloudflare/api-schemas/main/openapi.json";

/// How long a spec download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Where to load a spec from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    /// A local file.
    File(PathBuf),
    /// An `https://` URL, or an `http://` URL on a loopback host.
    Url(String),
}

impl SpecSource {
    /// Reads a command-line value: `https://…` is a URL, `http://…` is a URL only on a
    /// loopback host, and anything without a scheme is a file path.
    pub fn parse(input: &str) -> Result<SpecSource, SpecError> {
        let refuse = |reason| SpecError::InvalidSource {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(refuse("it is empty"));
        }
        let Some((scheme, _)) = input.split_once("://") else {
            return Ok(SpecSource::File(PathBuf::from(input)));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(refuse("only https:// URLs and file paths are supported"));
        }
        let url = Url::parse(input).map_err(|_| refuse("it is not a valid URL"))?;
        if scheme == "http" && !is_loopback(url.host()) {
            return Err(refuse(
                "plain http:// is only allowed for loopback hosts (localhost, 127.0.0.1, ::1); use https://",
            ));
        }
        Ok(SpecSource::Url(input.to_string()))
    }
}

impl FromStr for SpecSource {
    type Err = SpecError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        SpecSource::parse(input)
    }
}

impl fmt::Display for SpecSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecSource::File(path) => write!(f, "{}", path.display()),
            SpecSource::Url(url) => f.write_str(url),
        }
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// The cache directory: `$XDG_CACHE_HOME/codemode`, else `$HOME/.cache/codemode`, else a
/// `codemode` directory under the system temporary directory.
pub fn default_cache_dir() -> PathBuf {
    let absolute_var = |name| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute_var("XDG_CACHE_HOME")
        .or_else(|| absolute_var("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("codemode")
}

/// Reads a spec's bytes. A file is read as it is; a URL is downloaded and the copy cached in
/// `cache_dir`, and when the download fails the cached copy is used instead (with a warning).
pub async fn fetch(source: &SpecSource, cache_dir: &Path) -> Result<Vec<u8>, SpecError> {
    match source {
        SpecSource::File(path) => tokio::fs::read(path)
            .await
            .map_err(|source| SpecError::Read {
                path: path.clone(),
                source,
            }),
        SpecSource::Url(url) => fetch_url(url, cache_dir).await,
    }
}

async fn fetch_url(url: &str, cache_dir: &Path) -> Result<Vec<u8>, SpecError> {
    let cached = cache_dir.join(cache_file_name(url));
    match download(url).await {
        Ok(bytes) => {
            if let Err(error) = store(&cached, &bytes).await {
                tracing::warn!(path = %cached.display(), %error, "could not cache the downloaded spec");
            }
            Ok(bytes)
        }
        Err(reason) => match tokio::fs::read(&cached).await {
            Ok(bytes) => {
                tracing::warn!(url, %reason, path = %cached.display(), "could not fetch the spec; using the cached copy");
                Ok(bytes)
            }
            Err(_) => Err(SpecError::Fetch {
                url: url.to_string(),
                reason,
                cache_dir: cache_dir.to_path_buf(),
            }),
        },
    }
}

/// Downloads `url`, describing any failure in one line.
async fn download(url: &str) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("codemode/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| describe(&error))?;
    let response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| describe(&error))?;
    let bytes = response.bytes().await.map_err(|error| describe(&error))?;
    if bytes.is_empty() {
        return Err("the response was empty".to_string());
    }
    Ok(bytes.to_vec())
}

/// An error and its causes, joined with `: `.
fn describe(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// The cache file for `url`: named by a hash of the URL.
fn cache_file_name(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("spec-{hash}")
}

/// Writes `bytes` to `path` atomically: to a temporary file first, then renamed over it.
async fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

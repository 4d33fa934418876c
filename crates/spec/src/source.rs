//! Where a spec comes from: a local file or a URL, and how a URL is downloaded: conditionally,
//! as the HTTP cache rules of `http-cache-semantics` say, with progress reports.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{CACHE_CONTROL, HeaderValue, USER_AGENT};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use reqwest::StatusCode;
use url::{Host, Url};

use crate::error::SpecError;

/// Cloudflare's published OpenAPI spec, the default source.
pub const CLOUDFLARE_SPEC_URL: &str =
    "https://raw.githubusercontent.com/cloudflare/api-schemas/main/openapi.json";

/// How long a spec download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take when no cached copy can stand in.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take when a cached copy can stand in.
pub(crate) const CONNECT_TIMEOUT_WITH_CACHE: Duration = Duration::from_secs(3);

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

/// How far a download has come, reported while it runs and once when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received so far.
    pub received: u64,
    /// The size the server announced, if it did.
    pub total: Option<u64>,
    /// Time since the request was sent.
    pub elapsed: Duration,
    /// Whether the whole document has arrived.
    pub finished: bool,
}

impl Progress {
    /// Bytes per second so far.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Receives [`Progress`] reports; shared by the downloads of one loader.
pub type ProgressReport = Arc<dyn Fn(Progress) + Send + Sync>;

/// How often a running download reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// How a download ended.
#[derive(Debug)]
pub(crate) enum Download {
    /// A new document, with the cache policy to keep it under.
    Modified {
        /// The document.
        bytes: Vec<u8>,
        /// Its cache policy.
        policy: CachePolicy,
    },
    /// The server said the cached copy is still current (304), with its renewed policy.
    NotModified {
        /// The cached copy's policy, renewed by the 304's headers.
        policy: CachePolicy,
    },
    /// The cached copy is fresh by its own policy (`Cache-Control: max-age`, `Expires`): no
    /// request was sent.
    Fresh,
}

/// Whether a download may answer from a fresh cached copy or must ask the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// A copy the server said is fresh is used without a request.
    Allowed,
    /// The server is asked, conditionally, even when the copy is fresh.
    Revalidate,
}

/// How the cache judges freshness: as a private cache, and only by what the server said (no
/// heuristic lifetime from `Last-Modified`).
fn cache_options() -> CacheOptions {
    CacheOptions {
        shared: false,
        cache_heuristic: 0.0,
        ..CacheOptions::default()
    }
}

/// Downloads `url`, asking "changed since?" as the cached copy's `policy` says, and describes
/// any failure in one line.
pub(crate) async fn download(
    url: &str,
    cached: Option<&CachePolicy>,
    freshness: Freshness,
    connect_timeout: Duration,
    progress: Option<&ProgressReport>,
) -> Result<Download, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|error| describe(&error))?;
    let mut request = http::Request::get(url)
        .header(USER_AGENT, concat!("codemode/", env!("CARGO_PKG_VERSION")))
        .body(())
        .map_err(|error| describe(&error))?
        .into_parts()
        .0;
    if freshness == Freshness::Revalidate {
        request
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    let mut cached = cached;
    loop {
        let sent = match cached.map(|policy| policy.before_request(&request, SystemTime::now())) {
            Some(BeforeRequest::Fresh(_)) => return Ok(Download::Fresh),
            Some(BeforeRequest::Stale { request, .. }) => request,
            None => request.clone(),
        };
        let started = Instant::now();
        let response = client
            .get(url)
            .headers(sent.headers.clone())
            .send()
            .await
            .map_err(|error| describe(&error))?;
        let head = http::Response::builder()
            .status(response.status())
            .body(())
            .map(|mut head| {
                *head.headers_mut() = response.headers().clone();
                head
            })
            .map_err(|error| describe(&error))?;
        let now = SystemTime::now();
        let policy = match cached.map(|policy| policy.after_response(&sent, &head, now)) {
            Some(AfterResponse::NotModified(policy, _)) => {
                return Ok(Download::NotModified { policy });
            }
            Some(AfterResponse::Modified(policy, _)) => policy,
            None => CachePolicy::new_options(&sent, &head, now, cache_options()),
        };
        if response.status() == StatusCode::NOT_MODIFIED {
            if cached.is_none() {
                return Err(
                    "the server answered 304 Not Modified to an unconditional request".to_string(),
                );
            }
            // A 304 that names no copy we hold: ask again, unconditionally.
            cached = None;
            continue;
        }
        let response = response
            .error_for_status()
            .map_err(|error| describe(&error))?;
        let bytes = receive(response, started, progress).await?;
        return Ok(Download::Modified { bytes, policy });
    }
}

/// The body of a successful response, reporting progress while it arrives.
async fn receive(
    mut response: reqwest::Response,
    started: Instant,
    progress: Option<&ProgressReport>,
) -> Result<Vec<u8>, String> {
    let total = response.content_length();
    let mut bytes = Vec::new();
    let mut reported = started;
    let report = |received: usize, finished: bool| {
        if let Some(progress) = progress {
            progress(Progress {
                received: received as u64,
                total,
                elapsed: started.elapsed(),
                finished,
            });
        }
    };
    while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
        bytes.extend_from_slice(&chunk);
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            report(bytes.len(), false);
        }
    }
    report(bytes.len(), true);
    if bytes.is_empty() {
        return Err("the response was empty".to_string());
    }
    Ok(bytes)
}

/// An error and its causes, each said once: a cause its parent already quotes is left out.
fn describe(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

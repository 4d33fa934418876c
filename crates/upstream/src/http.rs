//! The real API over HTTPS: the only place the credential is attached to a request.

use std::error::Error as _;
use std::time::Duration;

use bytes::BytesMut;
use codemode_spec::Method;
use futures::future::{self, BoxFuture};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, SET_COOKIE};
use reqwest::redirect;

use crate::path_guard::{ApiBase, BaseUrlError};
use crate::upstream::{PreparedRequest, RawResponse, Upstream, UpstreamError};

/// The header the credential goes in unless configured otherwise.
pub const DEFAULT_AUTH_HEADER: &str = "Authorization";
/// What precedes the credential in its header unless configured otherwise.
pub const DEFAULT_AUTH_SCHEME: &str = "Bearer";

/// Timeouts, size limits and the headers of the HTTP upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, body included.
    pub request_timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// The header the credential goes in.
    pub auth_header: String,
    /// What precedes the credential in it (`Bearer`); empty sends the bare credential.
    pub auth_scheme: String,
    /// Headers sent with every request, e.g. `Accept` and `X-GitHub-Api-Version` for GitHub.
    pub headers: Vec<(String, String)>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 32 * 1024 * 1024,
            auth_header: DEFAULT_AUTH_HEADER.to_owned(),
            auth_scheme: DEFAULT_AUTH_SCHEME.to_owned(),
            headers: Vec::new(),
        }
    }
}

/// Why the HTTP upstream could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    /// The base URL is unusable.
    #[error(transparent)]
    Base(#[from] BaseUrlError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// A configured header name or value cannot be sent.
    #[error("invalid header {name:?}: {reason}")]
    Header {
        /// The header's name, as configured.
        name: String,
        /// Why it cannot be sent.
        reason: &'static str,
    },
}

/// Sends requests to the API base over the network, with each request's credential in the
/// configured header (a bearer token by default).
pub struct HttpUpstream {
    client: reqwest::Client,
    base: ApiBase,
    auth_header: HeaderName,
    settings: HttpSettings,
    trace_headers: Option<fn(&mut HeaderMap)>,
}

impl HttpUpstream {
    /// An upstream for `base_url` (e.g. `https://api.cloudflare.com/client/v4`); redirects are not followed.
    pub fn new(base_url: &str, settings: HttpSettings) -> Result<HttpUpstream, HttpSetupError> {
        let base = ApiBase::parse(base_url)?;
        let header_name = |name: &str| {
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| HttpSetupError::Header {
                name: name.to_owned(),
                reason: "not a valid header name",
            })
        };
        let auth_header = header_name(&settings.auth_header)?;
        let mut fixed = HeaderMap::new();
        for (name, value) in &settings.headers {
            let parsed = header_name(name)?;
            if parsed == auth_header {
                return Err(HttpSetupError::Header {
                    name: name.clone(),
                    reason: "it is the credential's header (auth_header); leave it out of headers",
                });
            }
            let value = HeaderValue::from_str(value).map_err(|_| HttpSetupError::Header {
                name: name.clone(),
                reason: "its value holds characters a header cannot carry",
            })?;
            fixed.insert(parsed, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(fixed)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("codemode/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpSetupError::Client(error_chain(&e)))?;
        Ok(HttpUpstream {
            client,
            base,
            auth_header,
            settings,
            trace_headers: None,
        })
    }

    /// The same upstream, adding the headers `stamp` writes (the trace context) to each request.
    pub fn with_trace_headers(self, stamp: fn(&mut HeaderMap)) -> HttpUpstream {
        HttpUpstream {
            trace_headers: Some(stamp),
            ..self
        }
    }
}

impl Upstream for HttpUpstream {
    fn send(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'static, Result<RawResponse, UpstreamError>> {
        let Ok(url) = self.base.join(&request.path, &request.query) else {
            return Box::pin(future::ready(Err(UpstreamError::OutsideBase)));
        };
        let mut builder = self.client.request(reqwest_method(request.method), url);
        if let Some(stamp) = self.trace_headers {
            let mut headers = HeaderMap::new();
            stamp(&mut headers);
            builder = builder.headers(headers);
        }
        if let Some(credential) = &request.credential {
            let value = match self.settings.auth_scheme.as_str() {
                "" => credential.expose().to_owned(),
                scheme => format!("{scheme} {}", credential.expose()),
            };
            let Ok(mut value) = HeaderValue::from_str(&value) else {
                return Box::pin(future::ready(Err(UpstreamError::Connection(
                    "the credential cannot be carried in a header".to_owned(),
                ))));
            };
            value.set_sensitive(true);
            builder = builder.header(self.auth_header.clone(), value);
        }
        if let Some(body) = request.body {
            builder = builder
                .header(CONTENT_TYPE, body.content_type)
                .body(body.bytes);
        }
        let settings = self.settings.clone();
        Box::pin(async move {
            let mut response = builder
                .send()
                .await
                .map_err(|e| transport_error(e, &settings))?;
            let status = response.status().as_u16();
            let content_type = header_text(response.headers(), &CONTENT_TYPE);
            let retry_after = header_text(response.headers(), &RETRY_AFTER);
            let headers = response
                .headers()
                .iter()
                .filter(|(name, _)| **name != SET_COOKIE)
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect();
            let limit = settings.max_response_bytes;
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(UpstreamError::ResponseTooLarge(limit));
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport_error(e, &settings))?
            {
                if body.len() + chunk.len() > limit {
                    return Err(UpstreamError::ResponseTooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(RawResponse {
                status,
                content_type,
                retry_after,
                headers,
                body: body.freeze(),
            })
        })
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn transport_error(error: reqwest::Error, settings: &HttpSettings) -> UpstreamError {
    if error.is_timeout() {
        UpstreamError::Timeout(settings.request_timeout)
    } else {
        UpstreamError::Connection(error_chain(&error.without_url()))
    }
}

/// An error and its causes, on one line.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

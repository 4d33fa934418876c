//! The request-options parser, the path guard and the response envelope: any options agent code
//! passes to `cloudflare.request` are accepted or refused, an accepted path always joins under the
//! API base as exactly that path, and any response body becomes an envelope.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use codemode_upstream::envelope::error_summary;
use codemode_upstream::{ApiBase, GuardedPath, RawResponse, RequestOptions, envelope};
use libfuzzer_sys::fuzz_target;

/// The bases joined to: the real API's and a loopback one with a port and no path.
static BASES: LazyLock<[ApiBase; 2]> = LazyLock::new(|| {
    [
        "https://api.cloudflare.com/client/v4",
        "http://127.0.0.1:8080/",
    ]
    .map(|base| ApiBase::parse(base).expect("a valid base"))
});

// The first byte says what the rest is: `o` the options object as JSON, `p` a path alone, `r` a
// response (a three-digit status, then the body).
fuzz_target!(|data: &[u8]| match data.split_first() {
    Some((b'o', json)) => {
        let Ok(options) = serde_json::from_slice(json) else {
            return;
        };
        match RequestOptions::parse(&options) {
            Ok(request) => joins_under_every_base(&request.path, &request.query),
            Err(error) => drop(error.to_string()),
        }
    }
    Some((b'p', path)) => {
        let Ok(path) = std::str::from_utf8(path) else {
            return;
        };
        match GuardedPath::parse(path) {
            Ok(guarded) => {
                assert_eq!(guarded.as_str(), path);
                // Segments come decoded, one per segment of the path as written.
                assert_eq!(guarded.segments().count(), path[1..].split('/').count());
                joins_under_every_base(&guarded, &[]);
            }
            Err(error) => drop(error.to_string()),
        }
    }
    Some((b'r', rest)) => {
        let (status, body) = rest.split_at(rest.len().min(3));
        let status = std::str::from_utf8(status)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        let response = RawResponse {
            status,
            content_type: Some("application/json".to_owned()),
            retry_after: None,
            headers: Vec::new(),
            body: Bytes::copy_from_slice(body),
        };
        match envelope(response, &[]) {
            Ok(envelope) => drop(error_summary(&envelope)),
            Err(malformed) => drop(malformed.to_string()),
        }
    }
    _ => {}
});

/// A guarded path joins under each base, and the URL's path is the base's path then this path.
fn joins_under_every_base(path: &GuardedPath, query: &[(String, String)]) {
    for base in BASES.iter() {
        let url = base
            .join(path, query)
            .expect("a guarded path stays under the base");
        let prefix = base.url().path().trim_end_matches('/');
        assert_eq!(url.path(), format!("{prefix}{path}"));
        assert_eq!(url.host(), base.url().host());
        assert!(url.fragment().is_none());
        if query.is_empty() {
            assert!(url.query().is_none());
        }
    }
}

//! Keeps every request under the API base: checks agent paths, then joins them to the base URL.

use std::fmt;

use url::Url;

/// The longest path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 2048;

/// Why a path was refused. Every message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("the path is empty; give an API path such as \"/zones\"")]
    Empty,
    /// The path is longer than [`MAX_PATH_LEN`].
    #[error("the path is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
    /// The path does not start with `/`: a URL, a scheme or a relative path.
    #[error(
        "the path must start with \"/\" and is joined to the API base (like \"/zones\"); \
         full URLs, schemes and relative paths are refused"
    )]
    NotRooted,
    /// The path starts with `//`, which names a host.
    #[error("the path must start with a single \"/\"; \"//\" would name another host")]
    SchemeRelative,
    /// The path holds a character that may not appear in it.
    #[error("the path contains {what} at byte {at}; {hint}")]
    ForbiddenCharacter {
        /// The character, described.
        what: String,
        /// Its byte offset.
        at: usize,
        /// What to do instead.
        hint: &'static str,
    },
    /// The path has an empty segment.
    #[error("the path has an empty segment (\"//\" or a trailing \"/\"); remove it")]
    EmptySegment,
    /// The path has a `.` or `..` segment, possibly percent-encoded.
    #[error("the path has a dot segment ({0:?}); write the full path without \".\" or \"..\"")]
    DotSegment(String),
    /// A `%` not followed by two hex digits.
    #[error("the path has an invalid percent-escape at byte {0}; use %XX with two hex digits")]
    BadEscape(usize),
    /// A percent-escape that decodes to `/`, `\` or a control character.
    #[error(
        "the path has the escape {0:?}, which decodes to a separator or control character; \
         such values cannot be sent in a path"
    )]
    EncodedSeparator(String),
    /// An escape of a character that needs none, such as `%5F` for `_`: the API would read a
    /// different path than the one checked against the spec and policy.
    #[error("the path percent-encodes {0:?}, a character that needs no encoding; write it as is")]
    EncodedUnreserved(String),
    /// Escapes that decode to bytes that are not UTF-8 text, such as `%FF`.
    #[error(
        "the path has escapes in {0:?} that are not UTF-8 text; percent-encode the UTF-8 bytes \
         of each character (encodeURIComponent does)"
    )]
    NotUtf8(String),
    /// An escape of an escape, such as `%252e`.
    #[error("the path is percent-encoded twice ({0:?}); encode each character once")]
    DoubleEncoded(String),
    /// The joined URL would leave the API base (a defence in depth; checks above prevent it).
    #[error("the path would leave the API base URL")]
    LeavesBase,
}

/// A path that passed every check: rooted, printable ASCII, no dot segments or smuggled
/// separators, no `;` parameters, and escapes that decode once to UTF-8 text. Its decoded
/// segments are the canonical path policy sees (`codemode_policy::canonical_path`), so the
/// spec route and the policy rule are the same for every spelling of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedPath {
    path: String,
    decoded: Vec<String>,
}

impl GuardedPath {
    /// Checks an agent-supplied path.
    pub fn parse(path: &str) -> Result<GuardedPath, PathError> {
        if path.is_empty() {
            return Err(PathError::Empty);
        }
        if path.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if !path.starts_with('/') {
            return Err(PathError::NotRooted);
        }
        if path.starts_with("//") {
            return Err(PathError::SchemeRelative);
        }
        for (at, c) in path.char_indices() {
            if let Some((what, hint)) = forbidden(c) {
                return Err(PathError::ForbiddenCharacter { what, at, hint });
            }
        }
        let mut offset = 1;
        let mut decoded = Vec::new();
        for segment in path[1..].split('/') {
            decoded.push(check_segment(segment, offset)?);
            offset += segment.len() + 1;
        }
        Ok(GuardedPath {
            path: path.to_string(),
            decoded,
        })
    }

    /// The path as it will be sent, still percent-encoded, e.g. `/zones/abc/dns_records`.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The segments between the slashes, each percent-decoded once: `values/prod%3Aconfig`
    /// gives `values` and `prod:config`. None holds `/`, and none decodes further.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.decoded.iter().map(String::as_str)
    }
}

impl fmt::Display for GuardedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// Why a base URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// Not a URL at all.
    #[error("invalid API base URL: {0}")]
    Invalid(String),
    /// A URL the base cannot be: other scheme, no host, credentials, query or fragment.
    #[error("invalid API base URL: {0}")]
    Unsupported(&'static str),
}

/// The URL every path is joined to, such as `https://api.cloudflare.com/client/v4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase(Url);

impl ApiBase {
    /// Parses and checks a base URL: http(s), a host, no credentials, query or fragment.
    pub fn parse(base: &str) -> Result<ApiBase, BaseUrlError> {
        let mut url = Url::parse(base).map_err(|e| BaseUrlError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(BaseUrlError::Unsupported(
                "the scheme must be https or http",
            ));
        }
        if url.host_str().is_none() {
            return Err(BaseUrlError::Unsupported("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::Unsupported("it must not contain credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::Unsupported(
                "it must not have a query or fragment",
            ));
        }
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(ApiBase(url))
    }

    /// The base URL, without a trailing slash.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The full URL of `path` with `query`, checked to stay under this base.
    pub fn join(&self, path: &GuardedPath, query: &[(String, String)]) -> Result<Url, PathError> {
        let base_path = self.0.path().trim_end_matches('/');
        let expected_path = format!("{base_path}{}", path.as_str());
        let mut url = self.0.clone();
        url.set_path(&expected_path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        if self.contains(&url, &expected_path) {
            Ok(url)
        } else {
            Err(PathError::LeavesBase)
        }
    }

    fn contains(&self, url: &Url, expected_path: &str) -> bool {
        url.scheme() == self.0.scheme()
            && url.host() == self.0.host()
            && url.port_or_known_default() == self.0.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
            && url.path() == expected_path
    }
}

/// Describes `c` and what to do instead, when it may not appear in a path.
fn forbidden(c: char) -> Option<(String, &'static str)> {
    let hint = match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => return None,
        '-' | '.' | '_' | '~' | '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' => {
            return None;
        }
        // `@` is a plain path character once the path is rooted (Workers AI models are
        // `/ai/run/@cf/...`); it could only mean userinfo before the host, which a rooted path never is.
        '=' | ':' | '@' | '%' | '/' => return None,
        c if c.is_control() => "control characters (CR, LF, NUL, ...) are never allowed",
        c if c.is_whitespace() => "percent-encode spaces as %20",
        '?' => "put query parameters in `query`, not in the path",
        '#' => "fragments are not allowed",
        // Servers that strip `;x` parameters would read `purge_cache;x` as `purge_cache`.
        ';' => "percent-encode it as %3B; API paths take no ;parameters",
        '\\' => "separate segments with \"/\"",
        '{' | '}' => "replace {placeholders} from the spec with real values",
        _ => "percent-encode it (encodeURIComponent)",
    };
    let what = if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", u32::from(c))
    } else {
        format!("{c:?}")
    };
    Some((what, hint))
}

/// Checks one segment (non-empty, valid escapes, nothing that decodes to a separator, a dot
/// segment, another escape or non-UTF-8 bytes) and returns it decoded.
fn check_segment(segment: &str, offset: usize) -> Result<String, PathError> {
    if segment.is_empty() {
        return Err(PathError::EmptySegment);
    }
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut unreserved = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            decoded.push(bytes[i]);
            i += 1;
            continue;
        }
        let escape = segment
            .get(i..i + 3)
            .filter(|e| e[1..].bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(PathError::BadEscape(offset + i))?;
        let value =
            u8::from_str_radix(&escape[1..], 16).map_err(|_| PathError::BadEscape(offset + i))?;
        if matches!(value, b'/' | b'\\') || value.is_ascii_control() {
            return Err(PathError::EncodedSeparator(escape.to_string()));
        }
        if unreserved.is_none() && is_unreserved(value) {
            unreserved = Some(escape.to_string());
        }
        decoded.push(value);
        i += 3;
    }
    if is_escape_sequence(&decoded) {
        return Err(PathError::DoubleEncoded(segment.to_string()));
    }
    // `..;x` is a dot segment to servers that strip `;` parameters.
    let before_params = decoded.split(|&b| b == b';').next().unwrap_or(&decoded);
    if before_params == b"." || before_params == b".." {
        return Err(PathError::DotSegment(segment.to_string()));
    }
    if let Some(escape) = unreserved {
        return Err(PathError::EncodedUnreserved(escape));
    }
    String::from_utf8(decoded).map_err(|_| PathError::NotUtf8(segment.to_string()))
}

/// RFC 3986 unreserved characters: letters, digits, `-`, `.`, `_` and `~`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Whether the decoded bytes still hold a `%XX` escape.
fn is_escape_sequence(decoded: &[u8]) -> bool {
    decoded
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://api.cloudflare.com/client/v4";

    fn refused(path: &str) -> PathError {
        match GuardedPath::parse(path) {
            Ok(_) => panic!("path {path:?} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn refuses_every_escape_attempt() {
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            ("https://evil.example/zones", PathError::NotRooted),
            ("http:/zones", PathError::NotRooted),
            ("javascript:alert(1)", PathError::NotRooted),
            ("zones", PathError::NotRooted),
            ("\\\\evil.example/zones", PathError::NotRooted),
            ("//evil.example/zones", PathError::SchemeRelative),
            ("///zones", PathError::SchemeRelative),
            ("/zones//abc", PathError::EmptySegment),
            ("/zones/", PathError::EmptySegment),
            ("/", PathError::EmptySegment),
            ("/zones/../accounts", PathError::DotSegment("..".into())),
            ("/zones/./abc", PathError::DotSegment(".".into())),
            ("/..", PathError::DotSegment("..".into())),
            ("/zones/%2e%2e/x", PathError::DotSegment("%2e%2e".into())),
            ("/zones/%2E./x", PathError::DotSegment("%2E.".into())),
            ("/zones/.%2e", PathError::DotSegment(".%2e".into())),
            ("/zones/%2e", PathError::DotSegment("%2e".into())),
            ("/zones/a%2fb", PathError::EncodedSeparator("%2f".into())),
            (
                "/zones/a%2F..%2Fb",
                PathError::EncodedSeparator("%2F".into()),
            ),
            ("/zones/a%5cb", PathError::EncodedSeparator("%5c".into())),
            ("/zones/a%00", PathError::EncodedSeparator("%00".into())),
            (
                "/zones/a%0d%0aHost:x",
                PathError::EncodedSeparator("%0d".into()),
            ),
            (
                "/zones/%252e%252e",
                PathError::DoubleEncoded("%252e%252e".into()),
            ),
            ("/zones/a%252fb", PathError::DoubleEncoded("a%252fb".into())),
            ("/zones/%zz", PathError::BadEscape(7)),
            ("/zones/%FF", PathError::NotUtf8("%FF".into())),
            ("/zones/caf%C3", PathError::NotUtf8("caf%C3".into())),
            ("/zones/..%3Bx", PathError::DotSegment("..%3Bx".into())),
            ("/zones/abc%2", PathError::BadEscape(10)),
        ];
        for (path, expected) in cases {
            assert_eq!(&refused(path), expected, "path {path:?}");
        }
    }

    #[test]
    fn refuses_forbidden_characters_wherever_they_are() {
        let paths = [
            "/zones\r\nHost: evil",
            "/zones\n",
            "/zones\0",
            "/zo\x7fnes",
            "/zones\t",
            "/zones/a b",
            "/zones?name=x",
            "/zones#frag",
            "/zones\\..\\accounts",
            "/\\evil.example",
            "/zones/{zone_id}",
            "/zones/caf\u{e9}",
            "/zones/\u{2028}",
            "/zones/<script>",
            "/zones/a\"b",
            "/zones/a|b",
            "/zones/z/purge_cache;x",
            "/zones/..;x/purge_cache",
        ];
        for path in paths {
            assert!(
                matches!(refused(path), PathError::ForbiddenCharacter { .. }),
                "path {path:?}"
            );
        }
    }

    #[test]
    fn messages_tell_the_agent_what_to_do() {
        assert!(refused("/zones?x=1").to_string().contains("`query`"));
        assert!(
            refused("/zones/{zone_id}")
                .to_string()
                .contains("placeholders")
        );
        assert!(
            refused("https://x")
                .to_string()
                .contains("must start with \"/\"")
        );
        assert!(refused("/a\nb").to_string().contains("U+000A"));
    }

    #[test]
    fn accepts_ordinary_paths() {
        for path in [
            "/zones",
            "/zones/023e105f4ecef8ad9ca31a8372d0c353/dns_records",
            "/accounts/abc/storage/kv/namespaces/ns/values/user:42",
            "/accounts/abc/storage/kv/namespaces/ns/values/caf%C3%A9%20au%20lait",
            "/accounts/abc/storage/kv/namespaces/ns/values/100%25",
            "/x/a.b/..../~tilde/a=b%3Bc,d+e!$&'()*",
        ] {
            assert_eq!(
                GuardedPath::parse(path).map(|p| p.to_string()),
                Ok(path.to_string())
            );
        }
    }

    #[test]
    fn segments_are_decoded_once() {
        let path = GuardedPath::parse("/values/prod%3aconfig/caf%C3%A9%20x/100%25/a%3Bb")
            .expect("valid path");
        let segments: Vec<&str> = path.segments().collect();
        assert_eq!(
            segments,
            ["values", "prod:config", "caf\u{e9} x", "100%", "a;b"]
        );
        assert_eq!(
            path.as_str(),
            "/values/prod%3aconfig/caf%C3%A9%20x/100%25/a%3Bb"
        );
    }

    #[test]
    fn joined_urls_stay_under_the_base() {
        let bases = [
            BASE,
            "https://api.cloudflare.com/client/v4/",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
        ];
        let paths = [
            "/zones",
            "/zones/abc/dns_records/def",
            "/accounts/a/storage/kv/namespaces/n/values/user:42",
            "/x/..../%3F%23%40",
            "/accounts/a/ai/run/@cf/meta/llama-3-8b-instruct",
            "/@evil.example/zones",
            "/user:pass@evil.example",
        ];
        for base in bases {
            let api = ApiBase::parse(base).expect("valid base");
            let base_url = Url::parse(base).expect("valid url");
            for path in paths {
                let guarded = GuardedPath::parse(path).expect("valid path");
                let query = vec![("a b".to_string(), "c&d=e#f".to_string())];
                let url = api.join(&guarded, &query).expect("stays under base");
                let reparsed = Url::parse(url.as_str()).expect("joined URL parses");
                assert_eq!(reparsed.scheme(), base_url.scheme());
                assert_eq!(reparsed.host(), base_url.host());
                assert_eq!(
                    reparsed.port_or_known_default(),
                    base_url.port_or_known_default()
                );
                assert!(reparsed.username().is_empty() && reparsed.password().is_none());
                let prefix = base_url.path().trim_end_matches('/');
                assert_eq!(reparsed.path(), format!("{prefix}{path}"));
                assert_eq!(reparsed.query(), Some("a+b=c%26d%3De%23f"));
                assert_eq!(reparsed.fragment(), None);
            }
        }
    }

    #[test]
    fn refuses_unusable_bases() {
        for base in [
            "ftp://api.example",
            "https://user:pw@api.example/v4",
            "https://api.example/v4?x=1",
            "https://api.example/v4#f",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(ApiBase::parse(base).is_err(), "base {base:?}");
        }
        let api = ApiBase::parse("https://api.example/client/v4/").expect("valid");
        assert_eq!(api.url().as_str(), "https://api.example/client/v4");
    }
}

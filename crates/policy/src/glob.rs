//! Globs over API paths and names: `*` matches within one path segment, `**` matches whole segments.

use percent_encoding::percent_decode_str;

/// One step of a glob: a wildcard run, or exactly one item that must satisfy `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<T> {
    Any,
    One(T),
}

/// A glob over a name such as an `operationId`: `*` matches any run of characters, all else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameGlob {
    tokens: Vec<Token<char>>,
}

impl NameGlob {
    /// Reads a name glob; every string is a valid one.
    pub fn new(glob: &str) -> NameGlob {
        let tokens = glob
            .chars()
            .map(|c| if c == '*' { Token::Any } else { Token::One(c) })
            .collect();
        NameGlob { tokens }
    }

    /// A glob over one canonical path segment: `*` as in [`NameGlob::new`], the text between
    /// percent-decoded once, as request paths are (so `prod%3A*` and `prod:*` are one glob).
    fn segment(glob: &str) -> NameGlob {
        let mut tokens = Vec::new();
        for (i, literal) in glob.split('*').enumerate() {
            if i > 0 {
                tokens.push(Token::Any);
            }
            let decoded = percent_decode_str(literal).decode_utf8_lossy();
            tokens.extend(decoded.chars().map(Token::One));
        }
        NameGlob { tokens }
    }

    /// Whether `name` matches, case-sensitively.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        wildcard_match(&self.tokens, &chars, |want, got| want == got)
    }
}

/// Why a path glob was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The glob does not start with `/`.
    #[error("a path glob starts with `/`")]
    NotAbsolute,
    /// The glob has `//` or ends with `/`.
    #[error("empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    /// `**` shares a segment with other characters.
    #[error("`**` must be a whole segment, as in `/zones/*/dns_records/**`")]
    PartialDoubleStar,
}

/// A glob over a `/`-separated path: a `**` segment matches any number of segments (zero
/// included), `*` inside a segment matches any run of characters within that segment, and
/// anything else matches itself, so `/zones/*/dns_records/**` matches the template
/// `/zones/{zone_id}/dns_records/{dns_record_id}`, the concrete `/zones/abc/dns_records/xyz` and
/// `/zones/abc/dns_records` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    tokens: Vec<Token<NameGlob>>,
}

impl PathGlob {
    /// Reads a path glob, rejecting one that is not absolute or has a malformed segment.
    pub fn parse(glob: &str) -> Result<PathGlob, GlobError> {
        let rest = glob.strip_prefix('/').ok_or(GlobError::NotAbsolute)?;
        if rest.is_empty() {
            return Ok(PathGlob { tokens: Vec::new() });
        }
        let tokens = rest
            .split('/')
            .map(|segment| match segment {
                "" => Err(GlobError::EmptySegment),
                "**" => Ok(Token::Any),
                s if s.contains("**") => Err(GlobError::PartialDoubleStar),
                s => Ok(Token::One(NameGlob::segment(s))),
            })
            .collect::<Result<_, _>>()?;
        Ok(PathGlob { tokens })
    }

    /// Whether `path` (canonical, see [`crate::canonical_path`]) matches; empty segments in
    /// `path` (`//`, a trailing `/`) are ignored.
    pub fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        wildcard_match(&self.tokens, &segments, |glob, segment| {
            glob.matches(segment)
        })
    }
}

/// Matches `items` against `pattern` where `Any` spans any run of items and `One` exactly one
/// item accepted by `accepts`, backtracking only to the latest `Any` (linear in practice,
/// `O(pattern × items)` at worst).
fn wildcard_match<P, T>(
    pattern: &[Token<P>],
    items: &[T],
    accepts: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut latest_any: Option<(usize, usize)> = None;
    while i < items.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                latest_any = Some((p + 1, i));
                p += 1;
            }
            Some(Token::One(want)) if accepts(want, &items[i]) => {
                p += 1;
                i += 1;
            }
            _ => match latest_any {
                Some((after_any, spanned_to)) => {
                    latest_any = Some((after_any, spanned_to + 1));
                    p = after_any;
                    i = spanned_to + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| matches!(token, Token::Any))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(glob: &str) -> PathGlob {
        PathGlob::parse(glob).expect("valid glob")
    }

    #[test]
    fn star_matches_exactly_one_segment() {
        let glob = path("/zones/*/purge_cache");
        assert!(glob.matches("/zones/{zone_id}/purge_cache"));
        assert!(glob.matches("/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"));
        assert!(!glob.matches("/zones/purge_cache"));
        assert!(!glob.matches("/zones/a/b/purge_cache"));
        assert!(!glob.matches("/zones/a/purge_cache/x"));
    }

    #[test]
    fn double_star_matches_any_number_of_segments_including_none() {
        let glob = path("/zones/*/dns_records/**");
        assert!(glob.matches("/zones/z/dns_records"));
        assert!(glob.matches("/zones/z/dns_records/import"));
        assert!(glob.matches("/zones/{zone_id}/dns_records/{dns_record_id}"));
        assert!(glob.matches("/zones/z/dns_records/batch/a/b"));
        assert!(!glob.matches("/zones/z/dns_settings"));
        assert!(!glob.matches("/accounts/a/dns_records"));
    }

    #[test]
    fn double_star_in_the_middle_backtracks() {
        let glob = path("/accounts/*/workers/**/scripts/*");
        assert!(glob.matches("/accounts/a/workers/scripts/s"));
        assert!(glob.matches("/accounts/a/workers/dispatch/namespaces/n/scripts/s"));
        assert!(glob.matches("/accounts/a/workers/scripts/scripts/scripts/s"));
        assert!(!glob.matches("/accounts/a/workers/scripts/s/content"));
    }

    #[test]
    fn star_inside_a_segment_stays_inside_it() {
        let glob = path("/zones/*/purge_*");
        assert!(glob.matches("/zones/z/purge_cache"));
        assert!(!glob.matches("/zones/z/purge/cache"));
        assert!(!glob.matches("/zones/z/cache_purge"));
    }

    #[test]
    fn literal_segments_are_exact_and_case_sensitive() {
        let glob = path("/zones/{zone_id}/settings");
        assert!(glob.matches("/zones/{zone_id}/settings"));
        assert!(!glob.matches("/zones/abc/settings"));
        assert!(!glob.matches("/zones/{zone_id}/Settings"));
    }

    #[test]
    fn empty_segments_in_the_path_do_not_dodge_a_glob() {
        let glob = path("/zones/*/purge_cache");
        assert!(glob.matches("//zones//z/purge_cache/"));
    }

    #[test]
    fn escapes_in_a_glob_are_decoded_like_request_paths() {
        let glob = path("/values/prod%3A*");
        assert!(glob.matches("/values/prod:config"));
        assert!(!glob.matches("/values/prod%3Aconfig"));
        assert!(path("/values/%2A").matches("/values/*"));
        assert!(!path("/values/%2A").matches("/values/x"));
    }

    #[test]
    fn root_glob_matches_only_the_root() {
        let glob = path("/");
        assert!(glob.matches("/"));
        assert!(!glob.matches("/zones"));
        assert!(path("/**").matches("/zones/z"));
    }

    #[test]
    fn malformed_globs_are_rejected() {
        assert_eq!(PathGlob::parse("zones/*"), Err(GlobError::NotAbsolute));
        assert_eq!(PathGlob::parse("/zones//x"), Err(GlobError::EmptySegment));
        assert_eq!(PathGlob::parse("/zones/"), Err(GlobError::EmptySegment));
        assert_eq!(
            PathGlob::parse("/zones/a**"),
            Err(GlobError::PartialDoubleStar)
        );
    }

    #[test]
    fn name_globs_match_runs_of_characters() {
        let glob = NameGlob::new("worker-script-*");
        assert!(glob.matches("worker-script-upload-worker-module"));
        assert!(glob.matches("worker-script-"));
        assert!(!glob.matches("namespace-worker-script-upload"));
        assert!(NameGlob::new("*-delete-*").matches("cloudflare-d1-delete-database"));
        assert!(NameGlob::new("zone-purge").matches("zone-purge"));
        assert!(!NameGlob::new("zone-purge").matches("zone-purge2"));
    }

    #[test]
    fn many_wildcards_on_a_long_path_stay_fast() {
        let glob = path("/**/a/**/a/**/a/**/a/**/b");
        let long = "/a".repeat(5_000);
        assert!(!glob.matches(&long));
    }
}

//! The canonical form of a request path, the one every rule is matched against.
//!
//! A path is percent-decoded once, split at `/` (and at `\`, which some servers read as `/`),
//! stripped of empty segments, and its dot segments are resolved (`..;x` counts as `..`, as it
//! does to servers that strip `;` parameters). Every spelling the API decodes to the same
//! resource has the same canonical form: `/values/prod%3Aconfig` and `/values/prod:config` alike
//! become `/values/prod:config`.

use percent_encoding::percent_decode_str;

/// The canonical form of `path`: decoded once, dot segments resolved, rooted at `/`.
pub fn canonical_path(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']).filter(|s| !s.is_empty()) {
        match segment.split(';').next() {
            Some(".") => {}
            Some("..") => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_once() {
        assert_eq!(
            canonical_path("/values/prod%3Aconfig"),
            "/values/prod:config"
        );
        assert_eq!(
            canonical_path("/values/prod%3aconfig"),
            "/values/prod:config"
        );
        assert_eq!(canonical_path("/values/%2541"), "/values/%41");
        assert_eq!(canonical_path("/values/caf%C3%A9"), "/values/caf\u{e9}");
        assert_eq!(canonical_path("/values/100%"), "/values/100%");
    }

    #[test]
    fn separators_dots_and_empty_segments_are_normalised() {
        assert_eq!(canonical_path("//zones//z/"), "/zones/z");
        assert_eq!(
            canonical_path("/zones/a%2Fpurge_cache"),
            "/zones/a/purge_cache"
        );
        assert_eq!(
            canonical_path("/zones/x/../z/./purge_cache"),
            "/zones/z/purge_cache"
        );
        assert_eq!(canonical_path("/zones/x/%2e%2E/z"), "/zones/z");
        assert_eq!(canonical_path("/zones/x/..;p/z"), "/zones/z");
        assert_eq!(canonical_path("/zones\\x\\..\\z"), "/zones/z");
        assert_eq!(canonical_path("/../.."), "/");
        assert_eq!(canonical_path("/a/b;c"), "/a/b;c");
        assert_eq!(canonical_path(""), "/");
    }
}

//! JSON pointers: where a value sits in the source document, and what an internal `$ref` names.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::error::SpecError;

/// Where a value sits in the source document: built on the stack as a walk descends and
/// rendered as a JSON pointer (`#/paths/~1zones/get`) only when an error needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    /// A complete pointer, e.g. the document root `#` or a `$ref` target.
    Pointer(&'a str),
    /// The member `key` of the object at the parent location.
    Key(&'a Location<'a>, &'a str),
    /// The element at `index` of the array at the parent location.
    Index(&'a Location<'a>, usize),
}

impl Location<'_> {
    /// The document root.
    pub(crate) const ROOT: Location<'static> = Location::Pointer("#");
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Pointer(pointer) => f.write_str(pointer),
            Location::Key(parent, key) => write!(f, "{parent}/{}", escape(key)),
            Location::Index(parent, index) => write!(f, "{parent}/{index}"),
        }
    }
}

/// Escapes one pointer token (`~` as `~0`, `/` as `~1`).
fn escape(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Finds the value an internal `$ref` (`#/...`, percent-encoded, `~0`/`~1` escaped) points at;
/// `at` is where the `$ref` was found, for the error.
pub(crate) fn target<'v>(
    root: &'v Value,
    reference: &str,
    at: &Location<'_>,
) -> Result<&'v Value, SpecError> {
    let Some(fragment) = reference.strip_prefix('#') else {
        return Err(SpecError::ExternalRef {
            reference: reference.to_string(),
            location: at.to_string(),
        });
    };
    let invalid = |reason| SpecError::InvalidRef {
        reference: reference.to_string(),
        location: at.to_string(),
        reason,
    };
    let pointer = percent_decode_str(fragment)
        .decode_utf8()
        .map_err(|_| invalid("its percent-encoding does not decode to UTF-8"))?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(invalid(
            "only JSON pointers (\"#/...\") are supported, not anchors",
        ));
    }
    root.pointer(&pointer)
        .ok_or_else(|| SpecError::RefNotFound {
            reference: reference.to_string(),
            location: at.to_string(),
        })
}

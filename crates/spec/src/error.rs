//! Everything that can stop a spec from loading, each error naming what is wrong and where.

use std::path::PathBuf;

use crate::operation::Method;

/// Why a spec could not be read or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The document starts like JSON but is not valid JSON; the error carries the line and column.
    #[error("the spec is not valid JSON: {0}")]
    Json(serde_json::Error),
    /// The document is not valid YAML; the error carries the line and column when known.
    #[error("the spec is not valid YAML: {0}")]
    Yaml(serde_yaml::Error),
    /// The document's top level is not an object.
    #[error("the spec must be an object at the top level, not {found}")]
    NotAnObject {
        /// What the top level is instead, e.g. "an array".
        found: &'static str,
    },
    /// A field every OpenAPI 3 document has is absent.
    #[error("the spec has no `{field}` field; is it an OpenAPI 3.0 or 3.1 document?")]
    MissingField {
        /// The missing top-level field.
        field: &'static str,
    },
    /// The document is Swagger 2.0 (or older), not OpenAPI 3.
    #[error(
        "the spec is Swagger {version}; codemode reads OpenAPI 3.0.x and 3.1.x (convert it first, e.g. with swagger2openapi)"
    )]
    Swagger {
        /// The `swagger` field's value.
        version: String,
    },
    /// The `openapi` field names a version other than 3.0.x or 3.1.x.
    #[error("the spec is OpenAPI {version:?}; codemode reads OpenAPI 3.0.x and 3.1.x")]
    UnsupportedVersion {
        /// The `openapi` field's value.
        version: String,
    },
    /// A field has the wrong type.
    #[error("{location} must be {expected}")]
    InvalidField {
        /// JSON pointer to the field, e.g. `#/paths/~1zones/get`.
        location: String,
        /// What the field must be, e.g. "an object".
        expected: &'static str,
    },
    /// An internal `$ref` names a place that does not exist in the document.
    #[error("$ref {reference:?} at {location} points to nothing in the document")]
    RefNotFound {
        /// The `$ref` value as written.
        reference: String,
        /// JSON pointer to the object holding the `$ref`.
        location: String,
    },
    /// A `$ref` points into another document.
    #[error(
        "$ref {reference:?} at {location} points outside the document; only internal refs (\"#/...\") are supported"
    )]
    ExternalRef {
        /// The `$ref` value as written.
        reference: String,
        /// JSON pointer to the object holding the `$ref`.
        location: String,
    },
    /// A `$ref` is not a well-formed JSON pointer.
    #[error("$ref {reference:?} at {location} is malformed: {reason}")]
    InvalidRef {
        /// The `$ref` value as written.
        reference: String,
        /// JSON pointer to the object holding the `$ref`.
        location: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Resolving `$ref`s nests the view deeper than the limit.
    #[error(
        "the spec nests more than {limit} levels deep at {location} once its $refs are resolved"
    )]
    TooDeep {
        /// Where the limit was crossed.
        location: String,
        /// The nesting limit.
        limit: usize,
    },
    /// Resolving the reference cycles would build an unreasonably large view.
    #[error(
        "resolving the spec's $refs needs more than {limit} nodes; its reference cycles expand too far"
    )]
    TooLarge {
        /// The node budget.
        limit: usize,
    },
    /// A spec source string cannot be used.
    #[error("cannot use {input:?} as a spec source: {reason}")]
    InvalidSource {
        /// The source as given.
        input: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A spec file could not be read.
    #[error("cannot read the spec file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A spec URL could not be downloaded and no cached copy exists.
    #[error(
        "could not fetch the spec from {url} ({reason}) and no cached copy exists in {}; pass --spec <file> to use a local spec, or --demo to try the demo API",
        cache_dir.display()
    )]
    Fetch {
        /// The URL.
        url: String,
        /// Why the download failed.
        reason: String,
        /// Where a cached copy was looked for.
        cache_dir: PathBuf,
    },
    /// A downloaded document is not a usable spec (an HTML error page, say); the cached copy,
    /// if any, was left as it was.
    #[error("the document downloaded from {url} is not a usable spec: {error}")]
    Downloaded {
        /// The URL.
        url: String,
        /// Why it did not load.
        error: Box<SpecError>,
    },
    /// A spec URL could not be downloaded again.
    #[error("could not fetch the spec from {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why the download failed.
        reason: String,
    },
    /// The task parsing the spec stopped before it finished.
    #[error("spec loading stopped before it finished")]
    Stopped,
}

/// A method and path that name no operation of the spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {path} is not an operation of this API{}", nearest_note(.nearest))]
pub struct UnknownOperation {
    /// The method asked for.
    pub method: Method,
    /// The path asked for.
    pub path: String,
    /// The closest operations, as `METHOD /template`, closest first.
    pub nearest: Vec<String>,
}

/// The sentence naming the nearest operations, or a pointer to searching when there are none.
fn nearest_note(nearest: &[String]) -> String {
    if nearest.is_empty() {
        "; search for the operation by what it does".to_string()
    } else {
        format!("; the nearest operations are: {}", nearest.join(", "))
    }
}

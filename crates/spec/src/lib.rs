//! Loads an OpenAPI 3.0/3.1 document once and resolves it into the immutable,
//! shared view that agent code reads as `spec`.
//!
//! ```
//! use codemode_spec::{Method, Spec};
//!
//! let spec = Spec::from_bytes(br##"
//! openapi: 3.1.0
//! info: {title: Zones, version: "1"}
//! paths:
//!   /zones:
//!     get:
//!       tags: [Zone]
//!       responses:
//!         "200": {content: {application/json: {schema: {$ref: "#/components/schemas/Zones"}}}}
//! components:
//!   schemas:
//!     Zones: {type: array, items: {type: string}}
//! "##)?;
//! assert_eq!(spec.title(), "Zones");
//! assert_eq!(spec.operations()[0].method, Method::Get);
//! let schema = spec.view().to_json()["paths"]["/zones"]["get"]["responses"]["200"]["content"]
//!     ["application/json"]["schema"]
//!     .clone();
//! assert_eq!(schema["type"], "array", "the $ref is resolved");
//! // Ranked retrieval by task, and the compact view of one operation by concrete path.
//! let found = spec.find("list the zones", &codemode_spec::FindOptions::default());
//! assert_eq!(found[0].operation.path, "/zones");
//! assert_eq!(spec.outline(Method::Get, "/zones/")?.response.as_deref(), Some("string[]"));
//! assert!(spec.outline(Method::Delete, "/zones").is_err(), "no such operation");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
pub mod check;
mod document;
pub mod error;
pub mod find;
pub mod loader;
pub mod node;
pub mod operation;
pub mod outline;
mod pointer;
mod refs;
mod resolve;
pub mod routes;
pub mod source;
pub mod spec;
pub mod stats;
mod view;

pub use check::Problem;
pub use error::{SpecError, UnknownOperation};
pub use find::{DEFAULT_FIND_LIMIT, FindOptions, Found, MAX_FIND_LIMIT};
pub use loader::{Loaded, Origin, SpecLoader};
pub use node::Node;
pub use operation::{Method, Operation, Product, product_segment};
pub use outline::{Outline, ParameterLine};
pub use routes::RouteTable;
pub use source::{CLOUDFLARE_SPEC_URL, Progress, ProgressReport, SpecSource, default_cache_dir};
pub use spec::Spec;
pub use stats::SpecStats;

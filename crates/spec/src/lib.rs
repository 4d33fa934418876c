//! Loads an OpenAPI 3.0/3.1 document once and resolves it into the immutable,
//! shared view that agent code reads as `spec`.

mod document;
pub mod error;
pub mod node;
pub mod operation;
mod pointer;
mod refs;
mod resolve;
pub mod source;
pub mod spec;
pub mod stats;
mod view;

pub use error::SpecError;
pub use node::Node;
pub use operation::{Method, Operation, Product, product_segment};
pub use source::{CLOUDFLARE_SPEC_URL, SpecSource, default_cache_dir, fetch};
pub use spec::Spec;
pub use stats::SpecStats;

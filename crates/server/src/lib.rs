//! codemode, the server: a whole API through two MCP tools, `search` and `execute`.
//!
//! [`call`] owns one governed tool call, free of any transport: scopes, limits, the upstream
//! credential, policy and approvals for every request, and the audit record. The transports
//! are adapters over it: [`handler`] speaks MCP, [`http`] serves it over Streamable HTTP
//! (with [`auth_layer`], [`approvals_api`] and [`approval_page`]) and [`stdio`] over stdin/stdout. [`settings`]
//! layers defaults, the config file, the environment and flags; [`wording`] names them in the
//! libraries' errors.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use codemode::call::{Caller, Runner};
//! use codemode::settings::{Options, Secrets, Settings};
//! use codemode_auth::Principal;
//!
//! let data = tempfile::tempdir()?;
//! let settings = Settings::resolve(Options {
//!     demo: Some(true),
//!     data_dir: Some(data.path().into()),
//!     ..Options::default()
//! })?;
//! let runner = Runner::start(&settings, Secrets::default()).await?;
//! let caller = Caller { principal: Principal::local(), session: None, client: None, forwarded: None, forwarded_to: Vec::new() };
//! let code = "async () => Object.keys(spec.paths).length";
//! let outcome = runner.search(&caller, code, Default::default()).await;
//! assert!(!outcome.is_error(), "{:?}", outcome.texts());
//! # Ok(())
//! # }
//! ```

pub mod approval_page;
pub mod approvals_api;
pub mod auth_layer;
pub mod call;
pub mod handler;
pub mod http;
pub mod in_flight;
pub mod live;
pub mod memory;
pub mod refresh;
pub mod results;
pub mod sessions;
pub mod settings;
pub mod shown;
pub mod spec_loading;
pub mod stdio;
pub mod stores;
pub mod telemetry;
pub mod tools;
pub mod wording;

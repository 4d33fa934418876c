//! The sandbox's integration tests, one module per theme. A new test goes in the module of
//! its theme (a new theme gets a new module here); shared fixtures live in `common`.

mod api_global;
mod code_forms;
mod common;
mod config;
mod execute;
mod language;
mod limits;
mod lookup;
mod parking;
mod search;

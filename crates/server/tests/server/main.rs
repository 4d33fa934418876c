//! The server's tests: one binary, one module per theme. A test of one governed call goes in
//! `call`; of the HTTP routes in process, in `router`; of a command of the built binary, in
//! the module named for that command. Shared helpers live in `support`.

mod admin;
mod call;
mod router;
mod spec_command;
mod support;
mod tool_budget;

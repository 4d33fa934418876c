//! Integration tests of the credential store. `store` covers the database on disk (round trips,
//! encryption at rest, wrong keys, altered rows); `key` covers the server key as callers read it.
//! New tests go in the module of their theme, or a new module declared here.

mod key;
mod store;

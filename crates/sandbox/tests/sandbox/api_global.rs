//! The global `execute` code reaches the API by is the pool's to choose.

use std::sync::Arc;

use codemode_sandbox::{CancelToken, Pool, PoolConfig, SandboxError};
use serde_json::json;

use crate::common::{Shared, TestHost, small_view, value};

fn pool_named(api_global: &str) -> Result<Pool, SandboxError> {
    let config = PoolConfig {
        workers: 1,
        api_global: api_global.to_owned(),
        ..PoolConfig::default()
    };
    Pool::new(small_view(), config, tokio::runtime::Handle::current())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_reached_through_the_global_the_pool_names() {
    let pool = pool_named("petstore").expect("the pool starts");
    let host = TestHost::new();
    let outcome = pool
        .execute(
            "async () => {
                const sent = (await petstore.request({ method: 'GET', path: '/pets' })).result;
                let misuse;
                try { await petstore.request('GET /pets'); } catch (error) { misuse = error.message; }
                return [typeof cloudflare, sent.path, misuse];
            }",
            Arc::new(Shared(host.clone())),
            CancelToken::new(),
        )
        .await;
    assert_eq!(
        outcome.map(value),
        Ok(json!([
            "undefined",
            "/pets",
            "petstore.request: expects one options object, e.g. { method: \"GET\", path: \"/zones\" }"
        ]))
    );
    assert_eq!(host.requests.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_is_no_identifier_or_is_taken_is_refused_at_start() {
    for name in [
        "",
        "my-api",
        "1api",
        "console",
        "accountId",
        "Object",
        "JSON",
    ] {
        let refused = pool_named(name).err();
        assert!(
            matches!(&refused, Some(SandboxError::Unavailable(message)) if message.contains(&format!("`{name}`"))),
            "{name}: {refused:?}"
        );
    }
}

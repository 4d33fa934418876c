//! `codemode health`: asks a running server's `/healthz`, for container health checks that
//! have no curl.

use std::time::Duration;

use anyhow::bail;
use clap::Args;

/// How long the health check waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `codemode health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The endpoint to ask; /readyz checks readiness instead of liveness.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8787/healthz"
    )]
    pub url: String,
}

impl HealthArgs {
    /// Asks the endpoint; fine when it answers 200.
    pub async fn run(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        let response = client
            .get(&self.url)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{} did not answer: {error}", self.url))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| anyhow::anyhow!("cannot read the answer of {}: {error}", self.url))?;
        if !status.is_success() {
            bail!("{} answered {status}: {}", self.url, body.trim());
        }
        println!("{}", body.trim());
        Ok(())
    }
}

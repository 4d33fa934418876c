//! `codemode spec`: loads a spec and prints what it holds and how long loading took.

use std::time::Instant;

use clap::Args;

use codemode::settings::SpecChoice;
use codemode::spec_loading::{self, SpecLoadError};

/// Options of `codemode spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// OpenAPI document: a file path or an https URL [default: Cloudflare's published spec, cached].
    #[arg(long, value_name = "FILE|URL")]
    pub spec: Option<String>,
    /// Report on the built-in demo spec.
    #[arg(long, conflicts_with = "spec")]
    pub demo: bool,
}

impl SpecArgs {
    /// Loads the spec and prints its statistics and load time.
    pub async fn run(&self) -> Result<(), SpecLoadError> {
        let choice = match (&self.spec, self.demo) {
            (_, true) => SpecChoice::Demo,
            (Some(source), false) => SpecChoice::Source(source.clone()),
            (None, false) => SpecChoice::Source(codemode_spec::CLOUDFLARE_SPEC_URL.to_string()),
        };
        let started = Instant::now();
        let loader = spec_loading::loader(&choice, &codemode_spec::default_cache_dir())?;
        let loaded = spec_loading::load(loader.as_ref()).await?;
        let elapsed = started.elapsed();
        println!("{}", loaded.spec.stats());
        println!("load time: {:.0} ms", elapsed.as_secs_f64() * 1000.0);
        Ok(())
    }
}

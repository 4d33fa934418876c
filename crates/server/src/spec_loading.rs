//! Loads the spec the settings choose: the demo's, or a file or URL (cached).

use std::path::Path;

use codemode_spec::{Spec, SpecError, SpecSource};

use crate::settings::SpecChoice;

/// Why the spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecLoadError {
    /// The source is not a file path or an https URL, or could not be read.
    #[error("{0}")]
    Source(#[source] SpecError),
    /// The document did not load.
    #[error("cannot load {name}: {source}")]
    Load {
        /// The source, as the operator wrote it.
        name: String,
        /// What is wrong with it.
        source: SpecError,
    },
    /// The loading task stopped.
    #[error("spec loading stopped before it finished")]
    Stopped,
}

/// Loads and resolves the chosen spec, off the async runtime.
pub async fn load(choice: &SpecChoice, cache_dir: &Path) -> Result<Spec, SpecLoadError> {
    let (bytes, name) = match choice {
        SpecChoice::Demo => (
            codemode_demo::DEMO_SPEC_YAML.as_bytes().to_vec(),
            "the demo spec".to_string(),
        ),
        SpecChoice::Source(source) => {
            let source = SpecSource::parse(source).map_err(SpecLoadError::Source)?;
            let bytes = codemode_spec::fetch(&source, cache_dir)
                .await
                .map_err(SpecLoadError::Source)?;
            (bytes, source.to_string())
        }
    };
    tokio::task::spawn_blocking(move || Spec::from_bytes(&bytes))
        .await
        .map_err(|_| SpecLoadError::Stopped)?
        .map_err(|source| SpecLoadError::Load { name, source })
}

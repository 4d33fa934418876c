//! Loads the spec the settings choose: the demo's, or a file or URL (cached), showing a
//! download's progress on stderr.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use codemode_spec::{
    Loaded, Origin, Progress, ProgressReport, Spec, SpecError, SpecLoader, SpecSource,
};

use crate::settings::SpecChoice;

/// Why the spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecLoadError {
    /// The source is not a file path or an https URL, or could not be read.
    #[error("{0}")]
    Source(SpecError),
    /// The document did not load.
    #[error("cannot load {name}: {error}")]
    Load {
        /// The source, as the operator wrote it.
        name: String,
        /// What is wrong with it.
        error: SpecError,
    },
}

/// The loader for a file or URL choice; `None` for the demo, whose spec is built in.
pub fn loader(choice: &SpecChoice, cache_dir: &Path) -> Result<Option<SpecLoader>, SpecLoadError> {
    match choice {
        SpecChoice::Demo => Ok(None),
        SpecChoice::Source(source) => {
            let source = SpecSource::parse(source).map_err(SpecLoadError::Source)?;
            Ok(Some(
                SpecLoader::new(source, cache_dir.to_path_buf()).with_progress(stderr_progress()),
            ))
        }
    }
}

/// Loads and resolves the chosen spec, off the async runtime.
pub async fn load(loader: Option<&SpecLoader>) -> Result<Loaded, SpecLoadError> {
    match loader {
        None => {
            let spec = tokio::task::spawn_blocking(|| {
                Spec::from_bytes(codemode_demo::DEMO_SPEC_YAML.as_bytes())
            })
            .await
            .unwrap_or(Err(SpecError::Stopped))
            .map_err(|error| SpecLoadError::Load {
                name: "the demo spec".to_string(),
                error,
            })?;
            Ok(Loaded {
                spec,
                origin: Origin::File,
            })
        }
        Some(loader) => loader.load().await.map_err(|error| match error {
            SpecError::Fetch { .. } | SpecError::Read { .. } | SpecError::Downloaded { .. } => {
                SpecLoadError::Source(error)
            }
            error => SpecLoadError::Load {
                name: loader.source().to_string(),
                error,
            },
        }),
    }
}

/// How often a download's progress is written when stderr is not a terminal.
const LOG_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Writes a download's progress to stderr: one line rewritten in place on a terminal, a line
/// every few seconds and one at the end otherwise.
fn stderr_progress() -> ProgressReport {
    let terminal = std::io::stderr().is_terminal();
    let last_line: Mutex<Option<Instant>> = Mutex::new(None);
    Arc::new(move |progress: Progress| {
        let text = progress_text(&progress);
        let mut stderr = std::io::stderr().lock();
        if terminal {
            let end = if progress.finished { "\n" } else { "" };
            let _ = write!(stderr, "\r\x1b[2K{text}{end}");
            return;
        }
        let mut last = last_line.lock().unwrap_or_else(PoisonError::into_inner);
        if progress.finished || last.is_none_or(|at| at.elapsed() >= LOG_PROGRESS_EVERY) {
            *last = Some(Instant::now());
            let _ = writeln!(stderr, "{text}");
        }
    })
}

/// `downloading the spec: 3.1 MiB of 12.0 MiB (1.2 MiB/s)`.
fn progress_text(progress: &Progress) -> String {
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let of = progress
        .total
        .map(|total| format!(" of {:.1} MiB", mib(total as f64)))
        .unwrap_or_default();
    let verb = if progress.finished {
        "downloaded"
    } else {
        "downloading"
    };
    format!(
        "{verb} the spec: {:.1} MiB{of} in {:.1} s ({:.1} MiB/s)",
        mib(progress.received as f64),
        progress.elapsed.as_secs_f64(),
        mib(progress.rate()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_bytes_size_and_rate() {
        let text = progress_text(&Progress {
            received: 3 * 1024 * 1024,
            total: Some(12 * 1024 * 1024),
            elapsed: Duration::from_secs(2),
            finished: false,
        });
        assert_eq!(
            text,
            "downloading the spec: 3.0 MiB of 12.0 MiB in 2.0 s (1.5 MiB/s)"
        );
    }
}

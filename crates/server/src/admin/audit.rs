//! `codemode audit`: verify, read, export and prune the audit log.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use codemode_audit::{
    AuditError, AuditKey, AuditLog, Outcome, StoredEntry, StoredRecord, Timestamp, Tool,
    UpstreamRequest,
};

use codemode::settings::{AUDIT_KEY_ENV, AuditStoreKind, Secrets, Settings};
use codemode::shown::escaped;
use codemode_audit::VerifyReport;
use codemode_stores::{PgAuditLog, PgError};

use super::ConfigArg;
use super::cutoff::Cutoff;

/// The column titles of `codemode audit tail`.
const HEADER: [&str; 8] = [
    "ID", "TIME", "SUBJECT", "TOOL", "OUTCOME", "REQUESTS", "ATTEMPTS", "DURATION",
];
/// Which columns hold numbers, and so are right-aligned.
const NUMERIC: [bool; 8] = [true, false, false, false, false, true, true, true];

/// Options of `codemode audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Where the log is.
    #[command(flatten)]
    pub location: LogLocation,
    /// What to do.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// Where the audit log is: `--audit`, else the settings.
#[derive(Debug, Args)]
pub struct LogLocation {
    /// The audit database [default: `[audit] path`, else audit.db in the data directory].
    #[arg(long, value_name = "FILE", global = true, help_heading = super::DATABASE_OPTIONS)]
    pub audit: Option<PathBuf>,
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The subcommands of `codemode audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no record was edited, deleted, inserted or reordered.
    ///
    /// Walks the hash chain from the oldest kept record to the newest, and exits non-zero at
    /// the first break, naming the row. With CODEMODE_AUDIT_KEY set (the key the server
    /// signs with), also checks the MACs of the chain's ends, which catches deleted newest or
    /// oldest records. When intact, prints the head hash: keep a copy of it elsewhere now and
    /// then, because someone able to write the file and holding the key, or restoring an older
    /// copy of the file, could rewrite the chain consistently.
    Verify,
    /// Adopt CODEMODE_AUDIT_KEY for a log written without it: verify, then sign its ends.
    ///
    /// A server started with the key refuses a log whose ends are not signed, since it cannot
    /// tell a log that never had a key from one whose MACs were stripped. Run this once,
    /// with the key set, after checking that nothing was deleted.
    Sign,
    /// Show the newest records, oldest first.
    Tail(TailArgs),
    /// Write records as JSON Lines, for archives and log pipelines.
    ///
    /// One JSON object per entry, oldest first: `entry` (`call` for a tool call, `request`
    /// for an upstream request's intent, written before it was sent), `id`, `prev_hash`, `hash`
    /// and the entry's fields (time, subject, tool, code, requests, outcome, ...). Entries
    /// never hold a credential or a request body.
    Export(ExportArgs),
    /// Delete old records; the rest still verify.
    ///
    /// The last deleted record becomes the chain's anchor, so later edits stay evident.
    /// Refuses if the records to delete break the chain: they are the evidence. Deletes in
    /// small transactions, so a running server keeps recording meanwhile. A log the server
    /// signs needs CODEMODE_AUDIT_KEY.
    Prune(PruneArgs),
}

/// Options of `codemode audit tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// How many records to show.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub lines: usize,
    /// Print whole records as JSON Lines, as `export` does.
    #[arg(long)]
    pub json: bool,
}

/// Options of `codemode audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only records from this time on: an age (30m, 24h, 7d, 2w) or an RFC 3339 time
    /// [default: every record].
    #[arg(long, value_name = "WHEN")]
    pub since: Option<Cutoff>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The formats `codemode audit export` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: one JSON object per record.
    Jsonl,
}

/// Options of `codemode audit prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete the records older than this: an age (90d, 2w) or an RFC 3339 time
    /// [default: `[audit] retention_days`].
    #[arg(long, value_name = "WHEN")]
    pub older_than: Option<Cutoff>,
}

impl AuditArgs {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = self.location.config.settings()?;
        if settings.audit.store == AuditStoreKind::Postgres && self.location.audit.is_none() {
            return run_postgres(&settings, self.command).await;
        }
        let path = self.location.audit.unwrap_or_else(|| settings.audit_path());
        let log = open_existing(&path, Secrets::audit_key_from_env()?)?;
        let result = match self.command {
            AuditCommand::Verify => verify(&log),
            AuditCommand::Sign => sign(&log),
            AuditCommand::Tail(args) => tail(&log, &args),
            AuditCommand::Export(args) => export(&log, &args),
            AuditCommand::Prune(args) => {
                let retention = settings.audit.retention_days.map(Cutoff::days_ago);
                prune(&log, args.older_than.or(retention))
            }
        };
        match result {
            Err(error) if is_broken_pipe(&error) => Ok(()),
            other => other,
        }
    }
}

/// Opens a log that must already exist: reading a mistyped path should not create a file.
fn open_existing(path: &Path, key: Option<AuditKey>) -> anyhow::Result<AuditLog> {
    if !path.exists() {
        bail!(
            "no audit log at {}; the server creates it when it records its first call \
             (pass --audit or --config to read another)",
            path.display()
        );
    }
    AuditLog::open_keyed(path, key)
        .map_err(|error| anyhow::anyhow!("cannot open the audit log {}: {error}", path.display()))
}

/// Runs the subcommand against the Postgres log.
async fn run_postgres(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    let url =
        settings.audit.postgres_url.as_ref().ok_or_else(|| {
            anyhow::anyhow!("set `[audit] postgres_url` to read the Postgres log")
        })?;
    let mut log = PgAuditLog::open(url.expose(), Secrets::audit_key_from_env()?).await?;
    match command {
        AuditCommand::Verify => print_verified(&log.verify().await?),
        AuditCommand::Export(args) => {
            let since = args
                .since
                .unwrap_or(Cutoff::BEGINNING)
                .instant(Timestamp::now());
            let (mut out, destination) = export_destination(&args)?;
            let written = log.export_since(since, &mut out).await?;
            eprintln!("exported {} to {destination}", records(written));
            Ok(())
        }
        AuditCommand::Sign => print_signed(log.sign().await.map_err(|error| match error {
            PgError::Audit(error) => signing_error(error),
            other => anyhow::Error::new(other).context("not signed"),
        })?),
        AuditCommand::Tail(args) => print_tail(&log.tail(args.lines).await?, &args),
        AuditCommand::Prune(args) => {
            let retention = settings.audit.retention_days.map(Cutoff::days_ago);
            let before = prune_cutoff(args.older_than.or(retention))?;
            print_pruned(log.prune(before).await?, before)
        }
    }
}

/// Walks the chain; an error naming the first break if there is one.
fn verify(log: &AuditLog) -> anyhow::Result<()> {
    print_verified(&log.verify()?)
}

/// Prints a verification's outcome; an error naming the first break if there is one.
fn print_verified(report: &VerifyReport) -> anyhow::Result<()> {
    if let Some(broken) = &report.broken {
        bail!(
            "audit log broken: {broken} ({} before it verified)",
            records(report.checked)
        );
    }
    println!("audit log intact: {}", records(report.checked));
    if report.signed {
        println!("anchor and head MACs match {AUDIT_KEY_ENV}");
    } else {
        eprintln!(
            "note: {AUDIT_KEY_ENV} is not set, so the MACs of the chain's ends were not checked: \
             deleting the newest records and moving the head back would go unnoticed"
        );
    }
    if report.anchor.id.0 > 0 {
        println!("anchor: row {} (older rows were pruned)", report.anchor.id);
    }
    if report.head.id.0 > 0 {
        println!("head: row {} hash {}", report.head.id, report.head.hash);
    }
    Ok(())
}

/// Signs the chain's ends with the key, once the chain verifies.
fn sign(log: &AuditLog) -> anyhow::Result<()> {
    print_signed(log.sign().map_err(signing_error)?)
}

/// What to say when signing failed.
fn signing_error(error: AuditError) -> anyhow::Error {
    match error {
        AuditError::NoKey => anyhow::anyhow!(
            "set {AUDIT_KEY_ENV} to the key the server will sign with (make one with \
             `openssl rand -hex 32`)"
        ),
        other => anyhow::Error::new(other).context("not signed"),
    }
}

/// Prints what signing covered.
fn print_signed(report: VerifyReport) -> anyhow::Result<()> {
    println!(
        "audit log signed with {AUDIT_KEY_ENV}: {}, head row {}",
        records(report.checked),
        report.head.id
    );
    Ok(())
}

/// Prints the newest records as a table or as JSON Lines.
fn tail(log: &AuditLog, args: &TailArgs) -> anyhow::Result<()> {
    print_tail(&log.tail(args.lines)?, args)
}

/// Prints `records` as a table, or as JSON Lines with `--json`.
fn print_tail(records: &[StoredRecord], args: &TailArgs) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        for record in records {
            let entry = StoredEntry::Call(record.clone());
            writeln!(out, "{}", serde_json::to_string(&entry)?)?;
        }
    } else if records.is_empty() {
        eprintln!("no records");
    } else {
        write_table(&mut out, records)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes the records from the cut-off on to stdout or a file.
fn export(log: &AuditLog, args: &ExportArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .unwrap_or(Cutoff::BEGINNING)
        .instant(Timestamp::now());
    let (mut out, destination) = export_destination(args)?;
    let written = match args.format {
        ExportFormat::Jsonl => log.export_since(since, &mut out)?,
    };
    eprintln!("exported {} to {destination}", records(written));
    Ok(())
}

/// Where an export goes (`--output`, else stdout), and its name for the closing line.
fn export_destination(args: &ExportArgs) -> anyhow::Result<(BufWriter<Box<dyn Write>>, String)> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            File::create(path)
                .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", path.display()))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let destination = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |path| path.display().to_string());
    Ok((BufWriter::new(out), destination))
}

/// Deletes the records older than `cutoff`.
fn prune(log: &AuditLog, cutoff: Option<Cutoff>) -> anyhow::Result<()> {
    let before = prune_cutoff(cutoff)?;
    print_pruned(log.prune(before)? as u64, before)
}

/// The instant before which records go, from `--older-than` or `[audit] retention_days`.
fn prune_cutoff(cutoff: Option<Cutoff>) -> anyhow::Result<Timestamp> {
    let Some(cutoff) = cutoff else {
        bail!(
            "say which records to delete: pass --older-than (e.g. 90d), \
             or set `[audit] retention_days` in the config file"
        );
    };
    Ok(cutoff.instant(Timestamp::now()))
}

/// Prints how many records went.
fn print_pruned(deleted: u64, before: Timestamp) -> anyhow::Result<()> {
    println!("pruned {} from before {before}", records(deleted));
    Ok(())
}

/// Writes the records as an aligned table under [`HEADER`].
fn write_table(out: &mut impl Write, records: &[StoredRecord]) -> io::Result<()> {
    let rows: Vec<[String; 8]> = records.iter().map(table_row).collect();
    let header = HEADER.map(String::from);
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths.iter().zip(NUMERIC))
            .map(|(cell, (&width, numeric))| {
                if numeric {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// One record's cells, in [`HEADER`] order.
fn table_row(stored: &StoredRecord) -> [String; 8] {
    let record = &stored.record;
    let tool = match record.tool {
        Tool::Search => "search",
        Tool::Execute => "execute",
    };
    let outcome = match (record.outcome, &record.error_kind) {
        (Outcome::Ok, _) => "ok".to_string(),
        (Outcome::Error, Some(kind)) => format!("error: {}", escaped(kind)),
        (Outcome::Error, None) => "error".to_string(),
    };
    [
        stored.id.to_string(),
        record.time.to_string(),
        escaped(&record.subject),
        tool.to_string(),
        outcome,
        record.requests.len().to_string(),
        attempts(&record.requests),
        format!("{} ms", record.duration_ms),
    ]
}

/// How many times the requests were sent, retries included; `-` for records from before
/// attempts were kept.
fn attempts(requests: &[UpstreamRequest]) -> String {
    requests
        .iter()
        .try_fold(0u64, |sent, request| {
            request.attempts.map(|attempts| sent + u64::from(attempts))
        })
        .map_or_else(|| "-".to_string(), |sent| sent.to_string())
}

/// "1 record", "2 records".
fn records(count: u64) -> String {
    match count {
        1 => "1 record".to_string(),
        _ => format!("{count} records"),
    }
}

/// Whether `error` only says that the reader of stdout went away, as `| head` does.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = match cause.downcast_ref::<serde_json::Error>() {
            Some(json) => json.io_error_kind(),
            None => cause.downcast_ref::<io::Error>().map(io::Error::kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

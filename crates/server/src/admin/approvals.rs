//! `codemode approvals`: the operator reads and decides pending approvals in the same store
//! the server uses (the audit database, or the `[store]` Redis). Nothing here is reachable
//! through MCP.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use codemode_audit::{Approval, ApprovalStore, Decision, Timestamp};

use codemode::approvals_api::OPERATOR_SUBJECT;
use codemode::shown::escaped;
use codemode::stores::{self, Approvals};

use super::audit::LogLocation;

/// Options of `codemode approvals`.
#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// Where the approvals are (the audit database).
    #[command(flatten)]
    pub location: LogLocation,
    /// What to do.
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

/// The subcommands of `codemode approvals`.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List the approvals still waiting for a decision, oldest first.
    List {
        /// Print whole approvals as JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Show one approval: who asked, its requests and where it stands.
    Show {
        /// The approval id (from `list` or the agent's `approval_required` result).
        id: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending approval: each of its requests may then go through once.
    Approve(DecideArgs),
    /// Reject a pending approval: none of its requests will go through.
    Reject(DecideArgs),
}

/// Options of `approve` and `reject`.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The approval id.
    pub id: String,
    /// The name recorded as the decider; it must differ from the subject that asked.
    #[arg(long, value_name = "NAME", default_value = OPERATOR_SUBJECT)]
    pub by: String,
}

impl ApprovalsArgs {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = self.location.config.settings()?;
        let store = match stores::redis_link(&settings).await? {
            Some(link) => Approvals::Redis(Arc::new(codemode_stores::RedisApprovals::new(link))),
            None => {
                let path = self.location.audit.unwrap_or_else(|| settings.audit_path());
                Approvals::Sqlite(Arc::new(open_existing(&path)?))
            }
        };
        let mut out = BufWriter::new(io::stdout().lock());
        match self.command {
            ApprovalsCommand::List { json } => {
                let pending = store.pending(Timestamp::now()).await?;
                if json {
                    for approval in &pending {
                        writeln!(out, "{}", serde_json::to_string(approval)?)?;
                    }
                } else if pending.is_empty() {
                    eprintln!("no approvals are waiting for a decision");
                }
                for approval in pending.iter().filter(|_| !json) {
                    write_summary(&mut out, approval)?;
                }
            }
            ApprovalsCommand::Show { id, json } => {
                let approval = store.get(&id).await?;
                if json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&approval)?)?;
                } else {
                    write_details(&mut out, &approval)?;
                }
            }
            ApprovalsCommand::Approve(args) => {
                decide(&mut out, &store, args, Decision::Approve).await?;
            }
            ApprovalsCommand::Reject(args) => {
                decide(&mut out, &store, args, Decision::Reject).await?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// Opens approvals that must already exist: a mistyped path should not create a database.
fn open_existing(path: &Path) -> anyhow::Result<ApprovalStore> {
    if !path.exists() {
        bail!(
            "no approvals at {}; the server creates this database when it starts \
             (pass --audit or --config to read another)",
            path.display()
        );
    }
    ApprovalStore::open(path)
        .with_context(|| format!("cannot open the approvals in {}", path.display()))
}

async fn decide(
    out: &mut impl Write,
    store: &Approvals,
    args: DecideArgs,
    decision: Decision,
) -> anyhow::Result<()> {
    let decided = store
        .decide(&args.id, &args.by, decision, Timestamp::now())
        .await?;
    writeln!(
        out,
        "approval {} {} by {}",
        decided.id,
        decided.status,
        escaped(&args.by)
    )?;
    write_requests(out, &decided)?;
    Ok(())
}

/// One line per approval, then its requests indented below it.
fn write_summary(out: &mut impl Write, approval: &Approval) -> io::Result<()> {
    writeln!(
        out,
        "{}  asked by {}  at {}  expires {}",
        approval.id,
        escaped(&approval.subject),
        approval.created_at,
        approval.expires_at
    )?;
    write_requests(out, approval)
}

/// Every field of an approval, one per line.
fn write_details(out: &mut impl Write, approval: &Approval) -> io::Result<()> {
    let now = Timestamp::now();
    let status = if approval.is_expired(now) {
        format!("{} (expired)", approval.status)
    } else {
        approval.status.to_string()
    };
    writeln!(out, "approval:   {}", approval.id)?;
    writeln!(out, "status:     {status}")?;
    writeln!(out, "asked by:   {}", escaped(&approval.subject))?;
    if let Some(session) = &approval.session {
        writeln!(out, "session:    {}", escaped(session))?;
    }
    writeln!(out, "code hash:  {}", approval.code_sha256)?;
    writeln!(out, "created:    {}", approval.created_at)?;
    writeln!(out, "expires:    {}", approval.expires_at)?;
    if let (Some(by), Some(at)) = (&approval.decided_by, approval.decided_at) {
        writeln!(out, "decided by: {} at {at}", escaped(by))?;
    }
    writeln!(
        out,
        "requests (method, then the path the agent's code chose):"
    )?;
    write_requests(out, approval)
}

/// The approval's requests: the method alone, the path the agent chose escaped after it.
fn write_requests(out: &mut impl Write, approval: &Approval) -> io::Result<()> {
    for item in &approval.requests {
        let request = &item.request;
        let body = request.body_sha256.as_deref().map_or_else(
            || "no body".to_string(),
            |hash| format!("body sha256 {hash}"),
        );
        let used = item
            .consumed_at
            .map_or_else(String::new, |at| format!(", sent at {at}"));
        writeln!(
            out,
            "  {:<7} {}  ({body}{used})",
            escaped(&request.method),
            escaped(&request.path)
        )?;
    }
    Ok(())
}

// The audit log from outside: a server writing to a fresh one, and `codemode audit` reading it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, writeConfig } from "./codemode.mjs";
import { BINARY } from "./paths.mjs";

/** Runs `codemode audit ...args` on the database `db`; `env` adds variables (e.g. the audit key). */
export function audit(db, args, env = {}) {
  return spawnSync(BINARY, ["audit", ...args, "--audit", db], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

/** Every entry `codemode audit export` writes: calls (`entry: "call"`) and request intents (`entry: "request"`). */
export function exportedEntries(db) {
  const out = audit(db, ["export", "--since", "24h", "--format", "jsonl"]);
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/** The call records of the log, oldest first. */
export function exportedCalls(db) {
  return exportedEntries(db).filter((entry) => entry.entry === "call");
}

/** Runs SQL against the database as someone with write access to the file would. */
export function sqlite(db, sql) {
  const out = spawnSync("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", db, sql], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
}

/** Starts `codemode serve` with its data (the audit log) in a fresh directory; `config` is extra TOML. */
export async function serverWithAudit({ config = "", ...extra } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "codemode-audit-"));
  const file = writeConfig(`data_dir = "${dataDir}"\n${config}`);
  const server = await startServer({ ...extra, args: ["--config", file, ...(extra.args ?? [])] });
  return { server, db: path.join(dataDir, "audit.db") };
}

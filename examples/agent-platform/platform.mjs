#!/usr/bin/env node
// An agent platform's embedding of codemode, on the v2 MCP TypeScript SDK: each end user's own
// upstream token is forwarded, every approval is put to that user with the platform's own
// approve/cancel prompt, the script's console lines stream as they happen, and the audit is read
// back for that user. Run: node platform.mjs "<code>" (see README.md for the environment).
import { execFile } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Client, StreamableHTTPClientTransport, LOG_LEVEL_META_KEY } from "@modelcontextprotocol/client";

/**
 * @typedef {object} PlatformUser
 * @property {string} apiKey        the user's codemode API key (its subject is the user; `forward = true`)
 * @property {string} upstreamToken the user's own Cloudflare token, sent in X-Upstream-Authorization
 */

/**
 * @typedef {object} Platform
 * @property {string} server       codemode's MCP endpoint, e.g. http://127.0.0.1:8787/mcp
 * @property {string} approverKey  the platform's key with the `approve` scope, used only after the user approves
 * @property {(question: string) => Promise<boolean>} ask  the platform's own approve/cancel prompt
 * @property {(level: string, line: string) => void} onConsole  receives the script's console lines live
 */

/**
 * @typedef {{status: "done", value: unknown} | {status: "cancelled", reason: string} | {status: "failed", error: string}} RunOutcome
 */

/**
 * Runs `code` with `execute` on behalf of `user`, asking them about every held request.
 * @param {Platform} platform
 * @param {PlatformUser} user
 * @param {string} code
 * @returns {Promise<RunOutcome>}
 */
export async function runForUser(platform, user, code) {
  const client = new Client(
    { name: "agent-platform-example", version: "1.0.0" },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: "auto" } },
  );
  // 2025-11-25 servers send elicitation/create mid-call; on 2026-07-28 the SDK turns an
  // `input_required` result into the same request and retries the call with the answer.
  client.setRequestHandler("elicitation/create", async (request) => {
    const approved = await platform.ask(request.params.message);
    return approved ? { action: "accept", content: {} } : { action: "decline" };
  });
  client.setNotificationHandler("notifications/message", (notification) => {
    const { level, data } = notification.params ?? notification;
    platform.onConsole(level, typeof data === "string" ? data : JSON.stringify(data));
  });
  const headers = { authorization: `Bearer ${user.apiKey}`, "x-upstream-authorization": `Bearer ${user.upstreamToken}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(platform.server), { requestInit: { headers } }));
  try {
    let result = await execute(client, { code });
    const held = approvalRequired(result);
    if (held) {
      const lines = held.pending.map((request) => `  ${request.method} ${request.path}`).join("\n");
      const approved = await platform.ask(`The agent wants to send:\n${lines}\nApprove?`);
      await decide(platform, held.approval_id, approved ? "approve" : "reject");
      if (!approved) return { status: "cancelled", reason: "you cancelled it" };
      result = await execute(client, { code, approval_id: held.approval_id });
    }
    const text = result.content?.map((block) => block.text ?? "").join("\n") ?? "";
    if (result.isError) return { status: "failed", error: text };
    return { status: "done", value: parse(result.content?.[0]?.text) };
  } finally {
    await client.close();
  }
}

/** Calls `execute`, asking for the script's console lines (2026-07-28 sends them only when asked). */
function execute(client, args) {
  return client.callTool({ name: "execute", arguments: args, _meta: { [LOG_LEVEL_META_KEY]: "info" } });
}

/** The `approval_required` body of a result, if the call stopped for one. */
function approvalRequired(result) {
  return parse(result.content?.[0]?.text)?.approval_required;
}

/** Approves or rejects approval `id` as the platform, on its user's word. */
async function decide(platform, id, verdict) {
  const url = new URL(`/approvals/${id}/${verdict}`, platform.server);
  const response = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${platform.approverKey}` } });
  if (!response.ok) throw new Error(`codemode refused to ${verdict} ${id}: ${response.status} ${await response.text()}`);
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The audit records of `subject`, read with `codemode audit export` on the server's machine.
 * @param {{bin: string, config: string}} codemode
 * @param {string} subject
 * @returns {Promise<Array<{time: string, tool: string, outcome: string, requests: Array<{method: string, path: string, decision: unknown}>}>>}
 */
export async function auditFor(codemode, subject) {
  const { stdout } = await promisify(execFile)(codemode.bin, ["audit", "export", "--config", codemode.config]);
  return stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line)).filter((record) => record.subject === subject && record.entry !== "request");
}

/** The command line: the code in argv, prompts answered on stdin, everything else from the environment. */
async function main() {
  const env = (name) => process.env[name] ?? fail(`set ${name}`);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const platform = {
    server: env("CODEMODE_URL"),
    approverKey: env("PLATFORM_APPROVER_KEY"),
    async ask(question) {
      process.stdout.write(`[ask] ${question.replaceAll("\n", "\n[ask] ")} [y/N]\n`);
      const answer = await lines.next();
      return !answer.done && /^y(es)?$/i.test(answer.value.trim());
    },
    onConsole: (level, line) => process.stdout.write(`[console:${level}] ${line}\n`),
  };
  const user = { apiKey: env("USER_API_KEY"), upstreamToken: env("USER_UPSTREAM_TOKEN") };
  const outcome = await runForUser(platform, user, process.argv[2] ?? fail("pass the code to run"));
  process.stdout.write(`[outcome] ${JSON.stringify(outcome)}\n`);
  const records = await auditFor({ bin: env("CODEMODE_BIN"), config: env("CODEMODE_CONFIG") }, env("USER_SUBJECT"));
  for (const record of records) {
    const requests = record.requests.map((r) => `${r.method} ${r.path}`).join(", ");
    process.stdout.write(`[audit] ${record.time} ${record.tool} ${record.outcome} ${requests}\n`);
  }
  process.exit(0);
}

function fail(message) {
  throw new Error(message);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    process.stderr.write(`agent-platform: ${error.message}\n`);
    process.exit(1);
  });
}

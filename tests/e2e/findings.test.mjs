// The attack corpus's findings (issue 8), each replayed through the official TypeScript SDK
// against the real binary: the attack as it was made, and what the server must do instead.
// The approval-question escapes (4) and the first-declined-question stop (5) are in
// governance.test.mjs; the audit's storage of refused calls (7) and truncation in audit.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN, ACCOUNT } from "./lib/fake-cloudflare.mjs";
import { BINARY } from "./lib/paths.mjs";

const AGENT_KEY = "findings-agent-key-3e4f5a";
const WRITER_KEY = "findings-writer-key-6b7c8d";
const READER_KEY = "findings-reader-key-9e0f1a";
const SECRETS = [TEST_TOKEN, AGENT_KEY, WRITER_KEY, READER_KEY];

/** A key entry of `[auth]` for `subject` with `scopes`. */
const keyEntry = (subject, key, scopes) => `
[[auth.keys]]
subject = "${subject}"
sha256 = "${sha256(key)}"
scopes = ${JSON.stringify(scopes)}`;

/** A fresh data dir, and the config that puts the audit log in it. */
function dataConfig(toml) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "codemode-findings-"));
  return { config: writeConfig(`data_dir = "${dataDir}"\n${toml}`), db: path.join(dataDir, "audit.db") };
}

/** Every record of the audit log at `db`, oldest first. */
function auditRecords(db) {
  const out = spawnSync(BINARY, ["audit", "export", "--since", "24h", "--format", "jsonl", "--audit", db], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/** Asserts no test secret appears in any of `outputs`. */
function assertNoSecret(outputs) {
  for (const secret of SECRETS) for (const output of outputs) assert.ok(!output.includes(secret), "a secret leaked");
}

// One server on the real Cloudflare spec and a fake API, for the policy, budget and discovery
// findings: an agent that may write, a key that may only write, and one that may only read.
let api, server, db;
const outputs = [];

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "PUT /zones/:zone_id/workers/script": () => ({ status: 200, json: envelope({ id: "replaced" }) }),
      "GET /accounts/:account_id/storage/kv/namespaces/:namespace_id/values/:key_name": (_req, _body, _url, { key_name }) => ({ status: 200, text: `value of ${key_name}` }),
      "GET /zones/:zone_id/firewall/rules": () => ({ status: 200, json: envelope([]) }),
    },
  });
  const setup = dataConfig(`
[auth]
mode = "keys"
${keyEntry("agent", AGENT_KEY, ["search", "execute:read", "execute:write"])}
${keyEntry("writer", WRITER_KEY, ["search", "execute:write"])}
${keyEntry("reader", READER_KEY, ["search", "execute:read"])}
[limits]
execute_per_session = 100
execute_per_subject_per_day = 100
[upstream]
max_subrequests = 3
[[policy.rules]]
name = "no-prod-values"
path = "/accounts/*/storage/kv/namespaces/*/values/prod:*"
action = "deny"
[[policy.rules]]
name = "no-firewall"
path = "/zones/*/firewall/**"
action = "deny"
`);
  db = setup.db;
  server = await startServer({ apiBase: api.base, args: ["--config", setup.config] });
});

after(async () => {
  await server?.stop();
  await api?.close();
  assertNoSecret([server.output(), ...outputs]);
});

const connect = (key) => connectHttp(server.url, "findings", { headers: { authorization: `Bearer ${key}` } });

async function exec(client, code) {
  const result = await call(client, "execute", { code });
  outputs.push(JSON.stringify(result.raw));
  return result;
}

test("finding 1: a Worker upload on the zone route needs a person's approval, like the account route", async () => {
  const client = await connect(AGENT_KEY);
  api.resetCounters();
  const upload = await exec(client, `async () => cloudflare.request({ method: "PUT", path: "/zones/z1/workers/script", body: "addEventListener('fetch', () => {})", rawBody: true, contentType: "application/javascript" })`);
  const required = upload.json?.approval_required;
  assert.ok(required, upload.text);
  assert.deepEqual(required.pending.map((r) => [r.method, r.path]), [["PUT", "/zones/z1/workers/script"]]);
  assert.equal(api.requests.length, 0, "nothing reaches the API before a person approves");
  await client.close();
});

test("finding 2: a deny rule refuses a percent-encoded spelling of the key it names", async () => {
  const client = await connect(AGENT_KEY);
  api.resetCounters();
  const values = "/accounts/a1/storage/kv/namespaces/n1/values";
  const read = (key) => exec(client, `async () => { try { return await cloudflare.request({ method: "GET", path: "${values}/${key}" }); } catch (e) { return "refused: " + e.message; } }`);
  for (const key of ["prod:config", "prod%3Aconfig", "prod%3aconfig"]) {
    const denied = await read(key);
    assert.match(denied.json, /^refused: .*denied by policy rule "no-prod-values"/, `${key}: ${denied.text}`);
  }
  const needless = await read("%70rod%3Aconfig");
  assert.match(needless.json, /^refused: .*percent-encodes "%70", a character that needs no encoding/, needless.text);
  assert.equal(api.requests.length, 0, "no spelling of a prod key reaches the API");
  const other = await read("staging%3Aconfig");
  assert.match(other.json?.result ?? "", /^value of staging/, other.text);
  assert.equal(api.requests.length, 1, "a key the rule does not name goes through");
  await client.close();
});

test("finding 3: a token the upstream echoes JSON-escaped reaches neither the code nor the log at trace level", async () => {
  // Every character as \uXXXX: the raw body holds none of the token's bytes.
  const escaped = [...`Bearer ${TEST_TOKEN}`].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
  const marker = "tool-result-marker-4d5e6f";
  const echo = await startFakeCloudflare({
    routes: {
      "GET /user/tokens/verify": () => ({
        status: 200,
        headers: { "content-type": "application/json" },
        text: `{"success":true,"errors":[],"messages":[],"result":{"echo":"${escaped}","marker":"${marker}"}}`,
      }),
    },
  });
  const traced = await startServer({ apiBase: echo.base, env: { RUST_LOG: "trace" }, args: ["--config", dataConfig("").config] });
  try {
    const client = await connectHttp(traced.url, "trace-client");
    const result = await call(client, "execute", { code: `async () => { const r = (await cloudflare.request({ method: "GET", path: "/user/tokens/verify" })).result; return { ...r, seen: r.echo.includes("${TEST_TOKEN}") }; }` });
    await client.close();
    assert.equal(result.json?.marker, marker, result.text);
    assert.equal(result.json.seen, false, "the code never reads the token");
    assert.equal(echo.requests[0].headers.authorization, `Bearer ${TEST_TOKEN}`, "the token did go upstream");
    const log = traced.output();
    assert.match(log, /upstream request/, "the server did log at trace level");
    assert.ok(!log.includes(marker), "no tool result is logged, at any level");
    assertNoSecret([JSON.stringify(result.raw), log, log.replaceAll("\\\\", "\\")]);
    assert.ok(!log.toLowerCase().includes(escaped.slice(0, 60).toLowerCase()), "nor the token's escaped form");
  } finally {
    await traced.stop();
    await echo.close();
  }
});

test("finding 5: requests that policy refuses count against the call's request budget", async () => {
  const client = await connect(AGENT_KEY);
  api.resetCounters();
  const result = await exec(client, `async () => {
    const messages = [];
    for (let i = 0; i < 4; i++) {
      try { await cloudflare.request({ method: "GET", path: "/zones/z" + i + "/firewall/rules" }); }
      catch (e) { messages.push(e.message); }
    }
    try { await cloudflare.request({ method: "GET", path: "/zones" }); } catch (e) { messages.push(e.message); }
    return messages;
  }`);
  assert.equal(result.json?.length, 5, result.text);
  for (const message of result.json.slice(0, 3)) assert.match(message, /denied by policy rule "no-firewall"/);
  for (const message of result.json.slice(3)) assert.match(message, /subrequest limit reached: one execute call may make at most 3 requests/);
  assert.equal(api.requests.length, 0, "the allowed request after three refused ones is over the budget");
  await client.close();
});

test("finding 9: account discovery goes through the caller's scopes, the budget and the audit", async () => {
  api.resetCounters();
  const writer = await connect(WRITER_KEY);
  const direct = await exec(writer, `async () => cloudflare.request({ method: "GET", path: "/accounts" })`);
  assert.equal(direct.isError, true);
  assert.match(direct.text, /execute:read/);
  const discovered = await exec(writer, `async () => { try { return accountId; } catch (e) { return "refused: " + e.message; } }`);
  assert.match(discovered.json, /^refused: could not discover the account \(GET \/accounts failed: .*execute:read/, discovered.text);
  assert.ok(!discovered.text.includes(ACCOUNT.id), "a write-only key does not learn the account");
  assert.equal(api.requests.filter((r) => r.path === "/accounts").length, 0, "nor does the API see the listing");
  await writer.close();

  const reader = await connect(READER_KEY);
  const read = await exec(reader, `async () => {
    const account = accountId;
    await cloudflare.request({ method: "GET", path: "/zones" });
    await cloudflare.request({ method: "GET", path: "/zones" });
    try { await cloudflare.request({ method: "GET", path: "/zones" }); } catch (e) { return [account, e.message]; }
  }`);
  assert.equal(read.json?.[0], ACCOUNT.id, read.text);
  assert.match(read.json[1], /at most 3 requests/, "discovery used one request of the budget");
  await reader.close();
  const records = auditRecords(db).filter((r) => r.subject === "reader");
  const last = records.at(-1);
  assert.deepEqual(
    last.requests.map((r) => [r.method, r.path, r.status, r.decision.kind]),
    [["GET", "/accounts", 200, "allow"], ["GET", "/zones", 200, "allow"], ["GET", "/zones", 200, "allow"]],
  );
  const refused = auditRecords(db).filter((r) => r.subject === "writer").at(-1);
  assert.deepEqual(refused.requests.map((r) => [r.method, r.path, r.status]), [["GET", "/accounts", null]], "the refused discovery is audited");
});

test("finding 6: a search is answered while several calls wait on questions nobody answers", async () => {
  const waiting = await startServer({
    args: ["--demo", "--config", writeConfig(`data_dir = "${scratchDir()}"\n[sandbox]\nworkers = 2\n[approvals]\nask_timeout_secs = 120\n`)],
    spec: null,
    token: null,
  });
  const asker = await connectHttp(waiting.url, "silent-person", { capabilities: { elicitation: {} } });
  const calls = 4;
  let asked = 0;
  let allAsked;
  const everyoneAsked = new Promise((resolve) => (allAsked = resolve));
  asker.setRequestHandler(ElicitRequestSchema, () => {
    asked += 1;
    if (asked === calls) allAsked();
    return new Promise(() => {});
  });
  const settled = [];
  const writes = Array.from({ length: calls }, (_, i) =>
    call(asker, "execute", {
      code: `async () => {
        const zone = (await cloudflare.request({ method: "GET", path: "/zones" })).result[0].id;
        return cloudflare.request({ method: "POST", path: \`/zones/\${zone}/dns_records\`, body: { type: "A", name: "wait${i}.example.com", content: "192.0.2.${i}" } });
      }`,
    }).finally(() => settled.push(i)),
  );
  try {
    await everyoneAsked;
    const other = await connectHttp(waiting.url, "another-user");
    const search = await call(other, "search", { code: "async () => Object.keys(spec.paths).length" });
    assert.ok(search.json > 0, search.text);
    assert.deepEqual(settled, [], "the search was answered while every question still waited");
    await other.close();
  } finally {
    await asker.close();
    await Promise.allSettled(writes);
    await waiting.stop();
  }
});

test("finding 8: on a stateless server a caller's Mcp-Session-Id header neither resets nor names a session", async () => {
  const setup = dataConfig(`
[auth]
mode = "keys"
${keyEntry("agent", AGENT_KEY, ["search", "execute:read", "execute:write"])}
[limits]
search_per_session = 1
execute_per_session = 1
execute_per_subject_per_day = 2
`);
  const stateless = await startServer({ args: ["--demo", "--stateless", "--config", setup.config], spec: null, token: null });
  try {
    const results = [];
    for (const session of ["victim-session", "victim-session", "another-session"]) {
      const client = await connectHttp(stateless.url, "header-chooser", { headers: { authorization: `Bearer ${AGENT_KEY}`, "mcp-session-id": session } });
      results.push(await call(client, "search", { code: "async () => 1" }));
      results.push(await call(client, "execute", { code: "async () => 2" }));
      await client.close();
    }
    const [searches, executes] = [results.filter((_, i) => i % 2 === 0), results.filter((_, i) => i % 2 === 1)];
    assert.deepEqual(searches.map((r) => r.json), [1, 1, 1], "no per-session limit follows a header");
    assert.deepEqual(executes.slice(0, 2).map((r) => r.json), [2, 2]);
    assert.equal(executes[2].isError, true, "the per-user quota applies whatever the header says");
    assert.match(executes[2].text, /2 execute calls per user per UTC day/);
    const records = auditRecords(setup.db);
    assert.equal(records.length, 6);
    for (const record of records) assert.equal(record.session ?? null, null, `the audit keeps no caller-chosen session: ${record.session}`);
  } finally {
    await stateless.stop();
  }
});

test("refused calls count toward a per-user refusal limit; past it every call is refused at once", async () => {
  const setup = dataConfig(`
[auth]
mode = "keys"
${keyEntry("agent", AGENT_KEY, ["search", "execute:read", "execute:write"])}
${keyEntry("reader", READER_KEY, ["search", "execute:read"])}
[limits]
max_code_chars = 40
refusals_per_subject_per_hour = 2
`);
  const limited = await startServer({ args: ["--demo", "--config", setup.config], spec: null, token: null });
  try {
    const client = await connectHttp(limited.url, "flooder", { headers: { authorization: `Bearer ${AGENT_KEY}` } });
    const long = `async () => ${"1 + ".repeat(20)}1`;
    for (let i = 0; i < 2; i++) {
      const refused = await call(client, "execute", { code: long });
      assert.match(refused.text, /code of at most 40 characters/);
    }
    for (const code of ["async () => 1", long]) {
      const flooded = await call(client, "search", { code });
      assert.equal(flooded.isError, true);
      assert.match(flooded.text, /2 refused calls per user per hour \(2 refused\)\. Every call is refused until \d{4}-\d\d-\d\dT\d\d:00:00Z/);
    }
    await client.close();
    const other = await connectHttp(limited.url, "reader", { headers: { authorization: `Bearer ${READER_KEY}` } });
    assert.equal((await call(other, "search", { code: "async () => 1" })).json, 1, "another user is not refused");
    await other.close();
    const records = auditRecords(setup.db);
    assert.deepEqual(records.map((r) => [r.subject, r.error_kind ?? null]), [["agent", "rate_limit"], ["agent", "rate_limit"], ["reader", null]], "calls past the limit write nothing to the audit log");
  } finally {
    await limited.stop();
  }
});

// Policy, human approval, rate limits and the audit log, through the official TypeScript SDK.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, call, writeConfig, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";

const AGENT_KEY = "agent-key-0a1b2c3d4e5f";
const APPROVER_KEY = "approver-key-9z8y7x6w";
const READER_KEY = "reader-key-5q4r3s2t";

let api, server, dataDir;
const outputs = [];

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "DELETE /zones/:zone_id/dns_records/:id": (_req, _body, _url, { id }) => ({ status: 200, json: envelope({ id }) }),
      "POST /zones/:zone_id/purge_cache": () => ({ status: 200, json: envelope({ id: "purged" }) }),
      "GET /zones/:zone_id/firewall/rules": () => ({ status: 200, json: envelope([]) }),
    },
  });
  dataDir = mkdtempSync(path.join(tmpdir(), "codemode-governance-"));
  const config = writeConfig(`
data_dir = "${dataDir}"
[auth]
mode = "keys"
[[auth.keys]]
subject = "agent"
sha256 = "${sha256(AGENT_KEY)}"
scopes = ["search", "execute:read", "execute:write", "approve"]
[[auth.keys]]
subject = "alice"
sha256 = "${sha256(APPROVER_KEY)}"
scopes = ["approve"]
[[auth.keys]]
subject = "reader"
sha256 = "${sha256(READER_KEY)}"
scopes = ["search", "execute:read"]
[limits]
search_per_session = 3
execute_per_session = 100
execute_per_subject_per_day = 100
[[policy.rules]]
name = "no-firewall"
path = "/zones/*/firewall/**"
action = "deny"
`);
  server = await startServer({ apiBase: api.base, args: ["--config", config] });
});

after(async () => {
  await server?.stop();
  await api?.close();
  const secrets = [TEST_TOKEN, AGENT_KEY, APPROVER_KEY, READER_KEY];
  const audit = ["audit.db", "audit.db-wal"].map((f) => path.join(dataDir, f)).filter(existsSync).map((f) => readFileSync(f).toString("latin1"));
  for (const secret of secrets) {
    for (const output of [server.output(), ...outputs, ...audit]) assert.ok(!output.includes(secret), "a secret leaked");
  }
});

const agent = (options = {}) => connectHttp(server.url, "governance-agent", { headers: { authorization: `Bearer ${AGENT_KEY}` }, ...options });

async function exec(client, code, extra = {}) {
  const result = await call(client, "execute", { code, ...extra });
  outputs.push(JSON.stringify(result.raw));
  return result;
}

async function decide(id, key, verdict) {
  const response = await fetch(new URL(`/approvals/${id}/${verdict}`, server.url), { method: "POST", headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: await response.json() };
}

const DELETE_RECORD = `async () => (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r1" })).result.id`;

test("a policy deny refuses the request with the rule's name and hides nothing from search", async () => {
  const client = await agent();
  const denied = await exec(client, `async () => cloudflare.request({ method: "GET", path: "/zones/z1/firewall/rules" })`);
  assert.equal(denied.isError, true);
  assert.match(denied.text, /denied by policy rule "no-firewall"/);
  assert.ok(!api.requests.some((r) => r.path.includes("/firewall/")), "the denied request never left");
  const found = await call(client, "search", { code: `async () => Object.keys(spec.paths).some(p => p.includes("/firewall/rules"))` });
  assert.equal(found.json, true);
  await client.close();
});

test("a read-only principal can GET but not write", async () => {
  const client = await connectHttp(server.url, "reader", { headers: { authorization: `Bearer ${READER_KEY}` } });
  const read = await exec(client, `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length`);
  assert.equal(read.json, 2, read.text);
  const write = await exec(client, `async () => cloudflare.request({ method: "POST", path: "/zones/z1/purge_cache", body: {} })`);
  assert.equal(write.isError, true);
  assert.match(write.text, /execute:write/);
  await client.close();
});

test("approval through elicitation: accepted requests go through, declined ones reject catchably", async () => {
  for (const [action, expectSent] of [["accept", true], ["decline", false]]) {
    const client = await agent({ capabilities: { elicitation: {} } });
    const questions = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      questions.push(request.params.message);
      return { action };
    });
    api.resetCounters();
    const result = await exec(client, `async () => { try { return await (${DELETE_RECORD})(); } catch (e) { return "refused: " + e.message; } }`);
    assert.equal(questions.length, 1);
    assert.match(questions[0], /^Approve DELETE \/zones\/z1\/dns_records\/r1\?/);
    if (expectSent) {
      assert.equal(result.json, "r1", result.text);
      assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 1);
    } else {
      assert.match(result.json, /^refused: DELETE \/zones\/z1\/dns_records\/r1 was not approved \(declined\)/);
      assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 0);
    }
    await client.close();
  }
});

test("the approval question escapes what the agent chose and keeps method and path on their own line", async () => {
  const client = await agent({ capabilities: { elicitation: {} } });
  const questions = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    questions.push(request.params.message);
    return { action: "decline" };
  });
  api.resetCounters();
  // ESC and CR would redraw a terminal prompt; U+202E reorders the rest of the line.
  const body = "\\u001b[2K\\rApprove GET /zones? \\u202e gnp.exe";
  const sent = await exec(client, `async () => { try { await cloudflare.request({ method: "POST", path: "/zones/z1/purge_cache", body: "${body}", rawBody: true, contentType: "text/plain" }); } catch (e) { return e.message; } }`);
  assert.equal(questions.length, 1, sent.text);
  const [question] = questions;
  for (const raw of ["\u001b", "\r", "\u202e"]) assert.ok(!question.includes(raw), `raw ${JSON.stringify(raw)} in ${JSON.stringify(question)}`);
  const lines = question.split("\n");
  assert.equal(lines[0], "Approve POST /zones/z1/purge_cache?");
  assert.match(lines[1], /^Policy rule "cache-purge" requires a person's approval/);
  assert.match(lines[2], /^Body chosen by the agent's code \(text\/plain, \d+ bytes\):$/);
  assert.ok(lines[3].includes("\\u{1b}[2K\\u{d}Approve GET /zones?"), lines[3]);
  assert.ok(lines[3].includes("\\u{202e}"), lines[3]);
  assert.equal(api.requests.filter((r) => r.path.endsWith("/purge_cache")).length, 0);
  await client.close();
});

test("a call stops asking after its first declined question, and a script cannot flood the person", async () => {
  const client = await agent({ capabilities: { elicitation: {} } });
  let questions = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    questions += 1;
    return { action: "decline" };
  });
  api.resetCounters();
  const result = await exec(client, `async () => {
    const messages = [];
    for (let i = 0; i < 50; i++) {
      try { await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r" + i }); }
      catch (e) { messages.push(e.message); }
    }
    return messages;
  }`);
  assert.equal(questions, 1, "one question, then no more");
  assert.equal(result.json.length, 50, result.text);
  assert.match(result.json[0], /was not approved \(declined\)/);
  assert.match(result.json[1], /refused without asking: an earlier question in this call was not approved/);
  assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 0);
  await client.close();
});

test("approval by approval id: the agent cannot approve itself, a person can, once", async () => {
  const client = await agent();
  api.resetCounters();
  const first = await exec(client, DELETE_RECORD);
  assert.notEqual(first.isError, true, first.text);
  const required = first.json.approval_required;
  assert.ok(required, first.text);
  assert.match(required.approval_id, /^[0-9a-f]{32}$/);
  assert.deepEqual(required.pending, [{ method: "DELETE", path: "/zones/z1/dns_records/r1", body_sha256: null }]);
  assert.ok(Date.parse(required.expires_at) > Date.now());
  assert.match(required.how_to_approve, /POST \/approvals\/[0-9a-f]+\/approve/);
  assert.equal(api.requests.length, 0, "nothing was sent before approval");

  const before = await exec(client, DELETE_RECORD, { approval_id: required.approval_id });
  assert.ok(before.json?.approval_required, "an undecided approval lets nothing through");

  const self = await decide(required.approval_id, AGENT_KEY, "approve");
  assert.equal(self.status, 403, "the agent's own credential cannot approve its request");
  const noKey = await fetch(new URL(`/approvals/${required.approval_id}/approve`, server.url), { method: "POST" });
  assert.equal(noKey.status, 401);
  const approved = await decide(required.approval_id, APPROVER_KEY, "approve");
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.status, "approved");
  assert.equal(approved.body.decided_by, "alice");

  const second = await exec(client, DELETE_RECORD, { approval_id: required.approval_id });
  assert.equal(second.json, "r1", second.text);
  assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 1);

  const replay = await exec(client, DELETE_RECORD, { approval_id: required.approval_id });
  assert.equal(replay.isError, true, "an approval lets each request through once, and says so when used");
  assert.match(replay.text, /approval_id "[0-9a-f]{32}" cannot be used: it was already used/);
  assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 1);

  const again = await decide(required.approval_id, APPROVER_KEY, "reject");
  assert.equal(again.status, 409, "a decided approval cannot be decided again");
  await client.close();
});

test("a rejected approval lets nothing through", async () => {
  const client = await agent();
  const first = await exec(client, `async () => (await cloudflare.request({ method: "POST", path: "/zones/z9/purge_cache", body: { purge_everything: true } })).result.id`);
  const id = first.json.approval_required.approval_id;
  assert.match(first.json.approval_required.pending[0].body_sha256, /^[0-9a-f]{64}$/);
  const rejected = await decide(id, APPROVER_KEY, "reject");
  assert.equal(rejected.body.status, "rejected");
  api.resetCounters();
  const second = await exec(client, `async () => (await cloudflare.request({ method: "POST", path: "/zones/z9/purge_cache", body: { purge_everything: true } })).result.id`, { approval_id: id });
  assert.equal(second.isError, true);
  assert.match(second.text, /cannot be used: it was rejected/);
  assert.equal(api.requests.length, 0);
  await client.close();
});

test("the session search limit answers with which limit was hit and when it resets", async () => {
  const client = await agent();
  for (let i = 0; i < 3; i++) assert.equal((await call(client, "search", { code: "async () => 1" })).json, 1);
  const refused = await call(client, "search", { code: "async () => 1" });
  assert.equal(refused.isError, true);
  assert.match(refused.text, /3 search calls per session/);
  assert.match(refused.text, /session/);
  await client.close();
});

test("code longer than 2,000 characters is refused when auth is on", async () => {
  const client = await agent();
  const long = await call(client, "execute", { code: `async () => ${"1 + ".repeat(600)}1` });
  assert.equal(long.isError, true);
  assert.match(long.text, /2000 characters/);
  await client.close();
});

test("an approval covers the exact request, query string included", async () => {
  const client = await agent();
  const first = await exec(client, DELETE_RECORD);
  const id = first.json.approval_required.approval_id;
  assert.equal((await decide(id, APPROVER_KEY, "approve")).status, 200);
  api.resetCounters();
  const withQuery = await exec(client, `async () => (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r1", query: { force: true } })).result.id`, { approval_id: id });
  assert.deepEqual(withQuery.json?.approval_required?.pending?.[0]?.path, "/zones/z1/dns_records/r1?force=true");
  assert.equal(api.requests.length, 0, "a request the person did not see is not let through");
  const exact = await exec(client, DELETE_RECORD, { approval_id: id });
  assert.equal(exact.json, "r1", exact.text);
  await client.close();
});

test("a session belongs to the principal that opened it", async () => {
  const client = await agent();
  await call(client, "search", { code: "async () => 1" });
  const session = client.transport.sessionId;
  const response = await fetch(server.url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${READER_KEY}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
  });
  assert.equal(response.status, 403);
  assert.match(await response.text(), /another principal/);
  await client.close();
});

test("per-session counts are kept per principal, so no one uses up another's", async () => {
  const raw = (key, id) =>
    fetch(server.url, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "search" },
      body: JSON.stringify({
        jsonrpc: "2.0", id, method: "tools/call",
        params: { name: "search", arguments: { code: "async () => 1" }, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} } },
      }),
    }).then((r) => r.text());
  for (let i = 0; i < 5; i++) await raw(AGENT_KEY, i);
  assert.match(await raw(READER_KEY, 99), /"result"/, "the reader's first sessionless search is not refused");
});

// Two `--stateless` replicas sharing Redis (rate-limit counts, approvals) and Postgres (the audit
// log), behind a round-robin proxy on loopback, driven through the official TypeScript SDK: a
// user's daily quota counts across both, an approval asked for on one is decided and used on
// the other, an execution paused on one (MCP 2026-07-28 `input_required`, the v2 client) is
// resumed on the other from its record in Redis, a retry sent to both replicas resumes it once,
// killing one replica (SIGKILL) mid-load loses no answered call's record, and every call from
// both lands in one chain that `codemode audit verify` accepts.
// Needs the servers tests/stores/with-servers.sh starts (tests/run.sh wraps the e2e run in it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawnSync } from "node:child_process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256, readResult } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { BINARY } from "./lib/paths.mjs";

const REDIS = process.env.CODEMODE_TEST_REDIS_URL;
const POSTGRES = process.env.CODEMODE_TEST_POSTGRES_URL;
const QUOTA_KEY = "quota-user-key-3a4b5c6d";
const AGENT_KEY = "replica-agent-key-7e8f9a0b";
const APPROVER_KEY = "replica-approver-key-1c2d3e4f";
/** One writer per paused-execution test, each within the daily quota. */
const RESUMER_KEYS = { moved: "resumer-moved-key-5a6b7c8d", stayed: "resumer-stayed-key-9e0f1a2b", raced: "resumer-raced-key-3c4d5e6f" };
const LOAD_KEY = "replica-load-key-5a6b7c8d";
const STATE_KEY = "e7".repeat(32);
const DAILY = 6;
const DELETE_RECORD = `async () => (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r1" })).result.id`;

let api, replicas, proxy, config, database;
const outputs = [];
/** Tool calls each replica served, counted by the proxy and the direct clients. */
const served = [0, 0];
let toolCalls = 0;
/** Rounds of paused executions: each execution's rounds share one call record. */
let rounds = 0;
/** The code of every tool call whose answer came back, from either replica. */
const answered = [];
/** What the mid-load kill came to, for the closing print. */
let killed;

/** A fresh Postgres database for this run, and its URL. */
function freshDatabase() {
  const name = `replicas_${process.pid}_${Date.now()}`;
  const made = spawnSync("psql", [POSTGRES, "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  return `${POSTGRES.slice(0, POSTGRES.lastIndexOf("/"))}/${name}`;
}

/** Forwards each HTTP request to the next replica in turn, streaming both ways. */
function roundRobin(targets) {
  let next = 0;
  const server = http.createServer((request, response) => {
    const index = next++ % targets.length;
    const target = new URL(targets[index]);
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      if (body.includes('"tools/call"')) served[index] += 1;
      const upstream = http.request({ host: target.hostname, port: target.port, path: request.url, method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
        response.writeHead(answer.statusCode, answer.headers);
        answer.pipe(response);
      });
      upstream.on("error", (error) => {
        response.writeHead(502);
        response.end(String(error));
      });
      upstream.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

before(async () => {
  assert.ok(REDIS && POSTGRES, "run through tests/stores/with-servers.sh, which starts Redis and Postgres");
  api = await startFakeCloudflare({
    routes: { "DELETE /zones/:zone_id/dns_records/:id": (_req, _body, _url, { id }) => ({ status: 200, json: envelope({ id }) }) },
  });
  database = freshDatabase();
  const prefix = `replicas-${process.pid}-${Date.now()}:`;
  const toml = (dataDir) => `data_dir = "${dataDir}"
[store]
kind = "redis"
redis_url = "${REDIS}"
redis_prefix = "${prefix}"
[audit]
store = "postgres"
postgres_url = "${database}"
[auth]
mode = "keys"
[[auth.keys]]
subject = "quota-user"
sha256 = "${sha256(QUOTA_KEY)}"
scopes = ["search", "execute:read"]
[[auth.keys]]
subject = "agent"
sha256 = "${sha256(AGENT_KEY)}"
scopes = ["search", "execute:read", "execute:write"]
${Object.entries(RESUMER_KEYS).map(([id, key]) => `[[auth.keys]]
subject = "resumer-${id}"
sha256 = "${sha256(key)}"
scopes = ["search", "execute:read", "execute:write"]
`).join("")}[[auth.keys]]
subject = "load"
sha256 = "${sha256(LOAD_KEY)}"
scopes = ["search"]
[[auth.keys]]
subject = "alice"
sha256 = "${sha256(APPROVER_KEY)}"
scopes = ["approve"]
[limits]
execute_per_subject_per_day = ${DAILY}
execute_per_session = 100
search_per_session = 1000
concurrent_per_subject = 16
`;
  config = writeConfig(toml(scratchDir()));
  const env = { CODEMODE_REQUEST_STATE_KEY: STATE_KEY };
  replicas = [
    await startServer({ apiBase: api.base, args: ["--config", config, "--stateless"], env }),
    await startServer({ apiBase: api.base, args: ["--config", writeConfig(toml(scratchDir())), "--stateless"], env }),
  ];
  proxy = await roundRobin(replicas.map((replica) => replica.url));
});

after(async () => {
  proxy?.close();
  for (const replica of replicas ?? []) await replica.stop();
  await api?.close();
  const printed = [...outputs, ...(replicas ?? []).map((replica) => replica.output())];
  for (const text of printed) {
    for (const secret of [TEST_TOKEN, QUOTA_KEY, AGENT_KEY, APPROVER_KEY, LOAD_KEY, ...Object.values(RESUMER_KEYS)]) assert.ok(!text.includes(secret), "no output holds a secret");
  }
});

const proxyUrl = () => `http://127.0.0.1:${proxy.address().port}/mcp`;
const bearer = (key) => ({ headers: { authorization: `Bearer ${key}` } });

async function execute(client, args) {
  toolCalls += 1;
  const result = await call(client, "execute", args);
  answered.push(args.code);
  outputs.push(JSON.stringify(result.raw));
  return result;
}

test("a user's daily execute quota is counted across both replicas", async () => {
  const client = await connectHttp(proxyUrl(), "quota-client", bearer(QUOTA_KEY));
  try {
    const before = [...served];
    const results = [];
    for (let i = 0; i < DAILY + 3; i++) results.push(await execute(client, { code: `async () => ${i}` }));
    const passed = results.filter((result) => !result.isError);
    assert.equal(passed.length, DAILY, results.map((r) => r.text).join("\n"));
    for (const refused of results.slice(DAILY)) {
      assert.equal(refused.isError, true);
      assert.match(refused.text, new RegExp(`limit reached: ${DAILY} execute calls per user per UTC day \\(${DAILY} used\\)`));
    }
    assert.ok(served[0] > before[0] && served[1] > before[1], `both replicas served calls: ${served}`);
    console.log(`quota: ${passed.length} of ${results.length} calls let through; tool calls per replica ${served[0] - before[0]} / ${served[1] - before[1]}`);
  } finally {
    await client.close();
  }
});

test("an approval asked for on one replica is decided and honoured on the other", async () => {
  const [first, second] = replicas;
  const onFirst = await connectHttp(first.url, "replica-a-agent", bearer(AGENT_KEY));
  const onSecond = await connectHttp(second.url, "replica-b-agent", bearer(AGENT_KEY));
  try {
    api.resetCounters();
    const held = await execute(onFirst, { code: DELETE_RECORD });
    served[0] += 1;
    const required = held.json?.approval_required;
    assert.ok(required, held.text);
    assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 0, "nothing is sent before a person decides");

    const decide = (replica, key) => fetch(new URL(`/approvals/${required.approval_id}/approve`, replica.url), { method: "POST", headers: { authorization: `Bearer ${key}` } });
    assert.equal((await decide(second, AGENT_KEY)).status, 403, "the agent cannot approve its own request on the other replica");
    const approved = await decide(second, APPROVER_KEY);
    assert.equal(approved.status, 200, await approved.clone().text());
    assert.equal((await approved.json()).status, "approved");

    const done = await execute(onSecond, { code: DELETE_RECORD, approval_id: required.approval_id });
    served[1] += 1;
    assert.equal(done.json, "r1", done.text);
    assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 1);
    const replay = await execute(onFirst, { code: DELETE_RECORD, approval_id: required.approval_id });
    served[0] += 1;
    assert.match(replay.text, /cannot be used: it was already used/, "the first replica sees it used");
    assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 1);
  } finally {
    await onFirst.close();
    await onSecond.close();
  }
});

/** A v2 client pinned to 2026-07-28 that declares elicitation and retries by hand, as `key`. */
async function v2(url, key) {
  const client = new Client(
    { name: "replica-v2", version: "1.0.0" },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } }, inputRequired: { autoFulfill: false } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

/** Calls `execute` on a v2 client, `input_required` results included. */
async function executeV2(client, code, params = {}) {
  rounds += 1;
  const raw = await client.callTool({ name: "execute", arguments: { code }, ...params }, { allowInputRequired: true });
  outputs.push(JSON.stringify(raw));
  return readResult(raw);
}

/** Code that reads the zones (marked `m`), then deletes record `id` once approved. */
const pausing = (id) => `async () => {
  const zones = (await cloudflare.request({ method: "GET", path: "/zones", query: { m: "${id}" } })).result.length;
  return { zones, deleted: (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/${id}" })).result.id };
}`;

/** Pauses `code` on `client`; the retry's accepting arguments. */
async function pause(client, code) {
  const first = await executeV2(client, code);
  assert.equal(first.raw.resultType, "input_required", first.text);
  const [key] = Object.keys(first.raw.inputRequests);
  return { inputResponses: { [key]: { action: "accept", content: {} } }, requestState: first.raw.requestState };
}

const deletes = (id) => api.requests.filter((r) => r.method === "DELETE" && r.path === `/zones/z1/dns_records/${id}`).length;
const marked = (id) => api.requests.filter((r) => r.method === "GET" && r.path === "/zones" && r.query.includes(`m=${id}`)).length;

test("an execution paused on one replica (2026-07-28) resumes on the other from its Redis record, and its approved request goes out once", async () => {
  const [first, second] = replicas;
  const [onFirst, onSecond] = [await v2(first.url, RESUMER_KEYS.moved), await v2(second.url, RESUMER_KEYS.moved)];
  const code = pausing("moved");
  try {
    const retry = await pause(onFirst, code);
    served[0] += 1;
    assert.equal(deletes("moved"), 0, "nothing is sent before the person answers");
    const done = await executeV2(onSecond, code, retry);
    served[1] += 1;
    assert.deepEqual(done.json, { zones: 2, deleted: "moved" }, done.text);
    assert.equal(deletes("moved"), 1, "the approved request went out once");
    assert.equal(marked("moved"), 1, "the earlier read was answered from the record, not sent again");
    // The first replica still holds the paused execution: the same retry there finds its
    // record taken and sends nothing.
    const again = await executeV2(onFirst, code, retry);
    served[0] += 1;
    assert.equal(again.isError, true, again.text);
    assert.match(again.text, /this paused call was resumed elsewhere/);
    assert.equal(deletes("moved"), 1, "the replayed retry sent nothing");
  } finally {
    await onFirst.close();
    await onSecond.close();
  }
});

test("a retry resumed where the execution paused cannot be resumed again on the other replica, nor twice on the same one", async () => {
  const [first, second] = replicas;
  const [onFirst, onSecond] = [await v2(first.url, RESUMER_KEYS.stayed), await v2(second.url, RESUMER_KEYS.stayed)];
  const code = pausing("stayed");
  try {
    const retry = await pause(onFirst, code);
    served[0] += 1;
    const done = await executeV2(onFirst, code, retry);
    served[0] += 1;
    assert.deepEqual(done.json, { zones: 2, deleted: "stayed" }, done.text);
    for (const [index, client] of [[1, onSecond], [0, onFirst]]) {
      const again = await executeV2(client, code, retry);
      served[index] += 1;
      assert.equal(again.isError, true, again.text);
      assert.match(again.text, /already answered, or its call is no longer paused/);
    }
    assert.equal(deletes("stayed"), 1, "the approved request went out once");
    assert.equal(marked("stayed"), 1);
  } finally {
    await onFirst.close();
    await onSecond.close();
  }
});

test("the same retry sent to both replicas at once resumes the execution once", async () => {
  const [first, second] = replicas;
  const [onFirst, onSecond] = [await v2(first.url, RESUMER_KEYS.raced), await v2(second.url, RESUMER_KEYS.raced)];
  const code = pausing("raced");
  try {
    const retry = await pause(onFirst, code);
    served[0] += 1;
    const answers = await Promise.all([executeV2(onFirst, code, retry), executeV2(onSecond, code, retry)]);
    served[0] += 1;
    served[1] += 1;
    const resumed = answers.filter((answer) => !answer.isError);
    assert.equal(resumed.length, 1, answers.map((answer) => answer.text).join("\n"));
    assert.deepEqual(resumed[0].json, { zones: 2, deleted: "raced" });
    const refused = answers.find((answer) => answer.isError);
    assert.match(refused.text, /resumed elsewhere|already answered, or its call is no longer paused/);
    assert.equal(deletes("raced"), 1, "the approved request went out once");
  } finally {
    await onFirst.close();
    await onSecond.close();
  }
});

test("/readyz says ready on both replicas, and not ready once their Postgres database is gone", async () => {
  for (const replica of replicas) {
    const ready = await fetch(new URL("/readyz", replica.url));
    assert.equal(ready.status, 200, await ready.clone().text());
  }
  const doomed = freshDatabase();
  const name = doomed.slice(doomed.lastIndexOf("/") + 1);
  const alone = await startServer({ apiBase: api.base, args: ["--config", writeConfig(`data_dir = "${scratchDir()}"\n[audit]\nstore = "postgres"\npostgres_url = "${doomed}"\n`)] });
  try {
    assert.equal((await fetch(new URL("/readyz", alone.url))).status, 200);
    const dropped = spawnSync("psql", [POSTGRES, "-v", "ON_ERROR_STOP=1", "-qc", `DROP DATABASE ${name} WITH (FORCE)`], { encoding: "utf8" });
    assert.equal(dropped.status, 0, dropped.stderr);
    const gone = await fetch(new URL("/readyz", alone.url));
    assert.equal(gone.status, 503);
    const body = await gone.json();
    assert.equal(body.status, "not ready");
    assert.match(body.reasons.audit ?? "", /Postgres/, JSON.stringify(body));
  } finally {
    await alone.stop();
  }
});

test("killing one replica mid-load loses no answered call's record", async () => {
  const [survivor, victim] = replicas;
  const LOADERS = 6;
  const CALLS = 30;
  const KILL_AFTER = 40;
  const targets = [proxyUrl(), proxyUrl(), survivor.url, survivor.url, victim.url, victim.url];
  const clients = await Promise.all(targets.map((url, i) => connectHttp(url, `load-${i}`, bearer(LOAD_KEY))));
  let loadAnswered = 0;
  let failed = 0;
  let attempted = 0;
  let inFlightAtKill;
  const inFlight = new Set();
  const kill = () => {
    inFlightAtKill = inFlight.size;
    victim.child.kill("SIGKILL");
  };
  async function load(client, loader) {
    for (let i = 0; i < CALLS; i++) {
      const code = `async () => "load-${loader}-${i}"`;
      attempted += 1;
      toolCalls += 1;
      inFlight.add(code);
      try {
        const result = await call(client, "search", { code });
        assert.equal(result.json, `load-${loader}-${i}`, result.text);
        answered.push(code);
        loadAnswered += 1;
        if (loadAnswered === KILL_AFTER) kill();
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        failed += 1;
        if (targets[loader] === victim.url) return;
      } finally {
        inFlight.delete(code);
      }
    }
  }
  try {
    await Promise.all(clients.map((client, loader) => load(client, loader)));
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
  assert.notEqual(inFlightAtKill, undefined, `the load reached ${KILL_AFTER} answered calls`);
  if (victim.child.signalCode === null) await new Promise((resolve) => victim.child.once("exit", resolve));
  assert.equal(victim.child.signalCode, "SIGKILL");
  assert.ok(failed > 0, "calls to the killed replica failed");
  assert.ok(loadAnswered > KILL_AFTER, "the survivor kept answering after the kill");
  killed = { attempted, answered: loadAnswered, failed, inFlightAtKill };
  console.log(`kill: SIGKILL one of two replicas after ${KILL_AFTER} answered calls (${inFlightAtKill} in flight then); ${attempted} load calls made, ${loadAnswered} answered, ${failed} failed`);
});

test("both replicas' calls are in one audit chain that `codemode audit verify` accepts", () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  const verified = spawnSync(BINARY, ["audit", "verify", "--config", config], { encoding: "utf8", env });
  outputs.push(verified.stdout, verified.stderr);
  assert.equal(verified.status, 0, verified.stderr);
  const exported = spawnSync(BINARY, ["audit", "export", "--config", config], { encoding: "utf8", env });
  assert.equal(exported.status, 0, exported.stderr);
  const entries = exported.stdout.trim().split("\n").map((line) => JSON.parse(line));
  const calls = entries.filter((entry) => entry.entry === "call");
  const recorded = new Map();
  for (const entry of calls) recorded.set(entry.code_sha256, (recorded.get(entry.code_sha256) ?? 0) + 1);
  const missing = [];
  for (const code of answered) {
    const left = recorded.get(sha256(code)) ?? 0;
    if (left === 0) missing.push(code);
    else recorded.set(sha256(code), left - 1);
  }
  assert.deepEqual(missing, [], "every answered call, from either replica, has its record");
  // Each resumed execution (three) has at least one record; its rounds may share it.
  assert.ok(calls.length >= answered.length + 3, `${calls.length} records for ${answered.length} answered calls and three resumed executions`);
  assert.ok(calls.length <= toolCalls + rounds, `no more records than calls and rounds: ${calls.length} for ${toolCalls} calls and ${rounds} rounds`);
  assert.deepEqual(entries.map((entry) => entry.id), entries.map((_, i) => i + 1), "one sequence of ids");
  const records = verified.stdout.match(/audit log intact: (\d+) records?/);
  assert.ok(records, verified.stdout);
  assert.equal(Number(records[1]), entries.length);
  console.log(`audit: ${records[0]}, ${calls.length} call records and ${entries.length - calls.length} request intents; ${answered.length} answered of ${toolCalls} tool calls, all recorded${killed ? ` (the load: ${killed.answered} answered of ${killed.attempted})` : ""}`);
});

// Approvals on MCP 2026-07-28: `execute` answers `input_required` with the question for the
// person, the client retries with the answer, and the same paused execution carries on; after
// the server is killed, the retry resumes it from its record. Driven
// through the v2 TypeScript client (auto, pinned and legacy negotiation) and the v1 client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256, readResult } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";

const ALICE_KEY = "alice-key-3c4d5e6f7a8b";
const BOB_KEY = "bob-key-1a2b3c4d5e6f";
const STATE_KEY = "request-state-key-0123456789abcdef0123456789abcdef";

let api, server;
const outputs = [];

/** A server on the fake API with API keys for alice and bob, both allowed to write. */
async function startKeyed(toml = "", dataDir = scratchDir(), env = {}) {
  const key = (subject, secret) => `[[auth.keys]]\nsubject = "${subject}"\nsha256 = "${sha256(secret)}"\nscopes = ["search", "execute:read", "execute:write"]\n`;
  const config = writeConfig(`data_dir = "${dataDir}"\n[auth]\nmode = "keys"\n${key("alice", ALICE_KEY)}${key("bob", BOB_KEY)}${toml}`);
  const started = await startServer({ apiBase: api.base, args: ["--config", config], env: { CODEMODE_REQUEST_STATE_KEY: STATE_KEY, ...env } });
  outputs.push(started);
  return started;
}

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "DELETE /zones/:zone_id/dns_records/:id": (_req, _body, _url, { id }) => ({ status: 200, json: envelope({ id }) }),
      "GET /zones/:zone_id/dns_records": () => ({ status: 200, json: envelope([]) }),
    },
  });
  server = await startKeyed();
});

after(async () => {
  for (const started of outputs) await started.stop();
  await api?.close();
  for (const started of outputs) {
    for (const secret of [TEST_TOKEN, ALICE_KEY, BOB_KEY, STATE_KEY]) assert.ok(!started.output().includes(secret), "a secret leaked");
  }
});

/** A v2 client negotiating `mode`, answering each approval question with `answer(message)`. */
async function v2(mode, answer, { key = ALICE_KEY, url = server.url, manual = false } = {}) {
  const client = new Client(
    { name: `v2-${JSON.stringify(mode)}`, version: "1.0.0" },
    { capabilities: answer ? { elicitation: {} } : {}, versionNegotiation: { mode }, ...(manual ? { inputRequired: { autoFulfill: false } } : {}) },
  );
  const asked = [];
  if (answer) {
    client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(request.params.message);
      return { action: await answer(request.params.message), content: {} };
    });
  }
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return { client, asked };
}

/** Calls `execute` and reads its first text block as JSON when it is JSON. */
async function execute(client, code, params = {}, options = {}) {
  const raw = await client.callTool({ name: "execute", arguments: { code }, ...params }, options);
  return readResult(raw);
}

/** The requests the fake API received for `method path`. */
const received = (method, path) => api.requests.filter((r) => r.method === method && r.path === path);

const deleting = (id, tail = "") => `async () => {
  const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result.length;
  try {
    const gone = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/${id}", query: { note: "ok" } });
    return { zones, deleted: gone.result.id };
  } catch (e) {
    ${tail}
    return { zones, refused: e.message };
  }
}`;

for (const mode of ["auto", { pin: "2026-07-28" }]) {
  test(`v2 client (${JSON.stringify(mode)}): an accepted approval resumes the same execution, and its request goes out once`, async () => {
    const { client, asked } = await v2(mode, () => "accept");
    const id = `accept-${typeof mode === "string" ? mode : "pin"}`;
    try {
      const result = await execute(client, deleting(id));
      assert.deepEqual(result.json, { zones: 2, deleted: id }, result.text);
      assert.equal(asked.length, 1);
      assert.match(asked[0], new RegExp(`^Approve DELETE /zones/z1/dns_records/${id}\\?note=ok\\?\\n`));
      assert.equal(received("DELETE", `/zones/z1/dns_records/${id}`).length, 1);
    } finally {
      await client.close();
    }
  });
}

test("v2 client: a declined approval rejects that request catchably, and it is never sent", async () => {
  const { client, asked } = await v2("auto", () => "decline");
  try {
    const result = await execute(client, deleting("declined"));
    assert.equal(asked.length, 1);
    assert.match(result.json?.refused ?? "", /DELETE \/zones\/z1\/dns_records\/declined\?note=ok was not approved \(declined\)/, result.text);
    assert.equal(received("DELETE", "/zones/z1/dns_records/declined").length, 0);
  } finally {
    await client.close();
  }
});

test("v2 client: two approvals in one script take a round each", async () => {
  const { client, asked } = await v2("auto", () => "accept");
  const code = `async () => {
    const a = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/twice-a" });
    const b = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/twice-b" });
    return [a.result.id, b.result.id];
  }`;
  try {
    const result = await execute(client, code);
    assert.deepEqual(result.json, ["twice-a", "twice-b"], result.text);
    assert.equal(asked.length, 2);
    assert.match(asked[0], /^Approve DELETE \/zones\/z1\/dns_records\/twice-a\?/);
    assert.match(asked[1], /^Approve DELETE \/zones\/z1\/dns_records\/twice-b\?/);
    assert.equal(received("DELETE", "/zones/z1/dns_records/twice-a").length, 1);
    assert.equal(received("DELETE", "/zones/z1/dns_records/twice-b").length, 1);
  } finally {
    await client.close();
  }
});

test("v2 client: an approval answered too late is refused; the script caught the rejection and nothing was sent", async () => {
  const late = await startKeyed("[approvals]\nask_timeout_secs = 0.5\n");
  // The person answers only once the script has gone on: its catch branch marks the fake API.
  const marked = () => received("GET", "/zones/z1/dns_records").some((r) => r.query.includes("expired-marker"));
  const { client, asked } = await v2("auto", async () => {
    while (!marked()) await new Promise((resolve) => setTimeout(resolve, 50));
    return "accept";
  }, { url: late.url });
  try {
    const tail = `await cloudflare.request({ method: "GET", path: "/zones/z1/dns_records", query: { m: "expired-marker" } });`;
    const result = await execute(client, deleting("expired", tail));
    assert.equal(asked.length, 1);
    assert.equal(result.isError, true);
    assert.match(result.text, /has expired, so its request was refused and not sent/);
    assert.equal(received("DELETE", "/zones/z1/dns_records/expired").length, 0);
  } finally {
    await client.close();
  }
});

/** Starts an execution by hand (manual mode) and returns its `input_required` result. */
async function paused(client, code) {
  const first = await client.callTool({ name: "execute", arguments: { code } }, { allowInputRequired: true });
  assert.equal(first.resultType, "input_required", JSON.stringify(first));
  const [key] = Object.keys(first.inputRequests);
  assert.equal(first.inputRequests[key].method, "elicitation/create");
  return { key, state: first.requestState, message: first.inputRequests[key].params.message };
}

const accept = (key) => ({ [key]: { action: "accept", content: {} } });

test("v2 client, by hand: a forged, altered, replayed or other principal's requestState is refused and changes nothing", async () => {
  const { client } = await v2("auto", null, { manual: true });
  const asker = await v2("auto", () => "accept", { manual: true });
  const bob = await v2("auto", () => "accept", { key: BOB_KEY, manual: true });
  const code = deleting("by-hand");
  const path = "/zones/z1/dns_records/by-hand";
  try {
    const { key, state, message } = await paused(asker.client, code);
    assert.match(message, /^Approve DELETE \/zones\/z1\/dns_records\/by-hand\?note=ok\?/);
    const retry = (who, requestState, changedCode = code) =>
      execute(who, changedCode, { inputResponses: accept(key), requestState }, { allowInputRequired: true });
    const flipped = state.slice(0, -2) + (state.at(-2) === "A" ? "B" : "A") + state.at(-1);
    for (const [what, attempt] of [
      ["forged", () => retry(asker.client, "rs1.Zm9yZ2Vk.Zm9yZ2Vk")],
      ["altered", () => retry(asker.client, flipped)],
      ["another principal's", () => retry(bob.client, state)],
      ["other code's", () => retry(asker.client, state, code + " ")],
    ]) {
      const refused = await attempt();
      assert.equal(refused.isError, true, `${what}: ${refused.text}`);
      assert.match(refused.text, /requestState is not valid for this call/, what);
    }
    assert.equal(received("DELETE", path).length, 0, "nothing was sent");
    const done = await retry(asker.client, state);
    assert.deepEqual(done.json, { zones: 2, deleted: "by-hand" }, done.text);
    const replayed = await retry(asker.client, state);
    assert.equal(replayed.isError, true);
    assert.match(replayed.text, /already answered, or its call is no longer paused/);
    assert.equal(received("DELETE", path).length, 1, "the approved request went out exactly once");
  } finally {
    await client.close();
    await asker.client.close();
    await bob.client.close();
  }
});

/** Kills the server outright (no shutdown of any kind), as a crash or a lost replica would. */
async function kill(started) {
  if (started.child.exitCode !== null) return;
  const exited = new Promise((resolve) => started.child.once("exit", resolve));
  started.child.kill("SIGKILL");
  await exited;
}

/** Retries a paused execution by hand with the accepting answer. */
const retryAccepting = (client, code, { key, state }) =>
  execute(client, code, { inputResponses: accept(key), requestState: state }, { allowInputRequired: true });

/** Pauses `code` on a server whose account is "account-before", kills it, and retries the pause
 * by hand on a server started again on the same data with account "account-after": the retry. */
async function retryAfterAccountChange(code) {
  const dataDir = scratchDir();
  const first = await startKeyed("", dataDir, { CLOUDFLARE_ACCOUNT_ID: "account-before" });
  const before = (await v2("auto", () => "accept", { url: first.url, manual: true })).client;
  const pause = await paused(before, code);
  await before.close();
  await kill(first);
  const second = await startKeyed("", dataDir, { CLOUDFLARE_ACCOUNT_ID: "account-after" });
  const after = (await v2("auto", () => "accept", { url: second.url, manual: true })).client;
  try {
    return await retryAccepting(after, code, pause);
  } finally {
    await after.close();
  }
}

test("v2 client, by hand: a paused execution resumes after the server is killed, each approved request goes out once and earlier ones are not sent again", async () => {
  const dataDir = scratchDir();
  // The first approved request's query carries the clock and a random number: a replay that
  // saw other values would make another request than the one approved.
  const code = `async () => {
    const zones = (await cloudflare.request({ method: "GET", path: "/zones", query: { m: "restart-marker" } })).result.length;
    const a = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/restart-a", query: { at: Date.now(), r: Math.random() } });
    const b = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/restart-b", query: { at: new Date().toISOString() } });
    return { zones, a: a.result.id, b: b.result.id };
  }`;
  const marked = () => received("GET", "/zones").filter((r) => r.query.includes("restart-marker"));
  let server = await startKeyed("", dataDir);
  let client = (await v2("auto", () => "accept", { url: server.url, manual: true })).client;
  const first = await paused(client, code);
  const approvedA = first.message.match(/^Approve DELETE (\S+)\?\n/)?.[1];
  assert.match(approvedA ?? "", /^\/zones\/z1\/dns_records\/restart-a\?at=\d+&r=0\.\d+$/, first.message);
  assert.equal(marked().length, 1);
  await client.close();
  await kill(server);

  server = await startKeyed("", dataDir);
  client = (await v2("auto", () => "accept", { url: server.url, manual: true })).client;
  const second = await retryAccepting(client, code, first);
  assert.equal(second.raw.resultType, "input_required", second.text);
  const [key] = Object.keys(second.raw.inputRequests);
  assert.match(second.raw.inputRequests[key].params.message, /^Approve DELETE \/zones\/z1\/dns_records\/restart-b\?at=\d{4}-/);
  const sentA = received("DELETE", "/zones/z1/dns_records/restart-a");
  assert.equal(sentA.length, 1, "the approved request went out once");
  assert.equal(`${sentA[0].path}${sentA[0].query}`, approvedA, "the request approved is the one sent");
  assert.equal(marked().length, 1, "the earlier request was answered from the record, not sent again");
  await client.close();
  await kill(server);

  server = await startKeyed("", dataDir);
  client = (await v2("auto", () => "accept", { url: server.url, manual: true })).client;
  try {
    const done = await retryAccepting(client, code, { key, state: second.raw.requestState });
    assert.deepEqual(done.json, { zones: 2, a: "restart-a", b: "restart-b" }, done.text);
    assert.equal(received("DELETE", "/zones/z1/dns_records/restart-a").length, 1);
    assert.equal(received("DELETE", "/zones/z1/dns_records/restart-b").length, 1);
    assert.equal(marked().length, 1);
    const again = await retryAccepting(client, code, { key, state: second.raw.requestState });
    assert.equal(again.isError, true, again.text);
    assert.match(again.text, /already answered, or its call is no longer paused/);
    assert.equal(received("DELETE", "/zones/z1/dns_records/restart-b").length, 1, "a replayed state sends nothing");
  } finally {
    await client.close();
  }
});

test("v2 client, by hand: a resumed run that makes other requests than the record is ended with a clear error, and sends nothing", async () => {
  const code = `async () => {
    await cloudflare.request({ method: "GET", path: "/zones", query: { account: accountId, m: "diverge-marker" } });
    return (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/diverged" })).result.id;
  }`;
  const marked = () => received("GET", "/zones").filter((r) => r.query.includes("diverge-marker"));
  // The restart's account changes the code's first request, so it is no longer the recorded one.
  const retried = await retryAfterAccountChange(code);
  assert.equal(retried.isError, true, retried.text);
  assert.match(retried.text, /cannot be resumed here: request 1 of the run that paused was GET \/zones\?account=account-before&m=diverge-marker, but running the code again made GET \/zones\?account=account-after&m=diverge-marker\. Nothing more was sent/);
  assert.equal(marked().length, 1, "only the first run's request was sent");
  assert.equal(received("DELETE", "/zones/z1/dns_records/diverged").length, 0);
});

test("v2 client, by hand: a paused execution that read the clock resumes after the server is killed with the same readings, and a live clock after", async () => {
  const dataDir = scratchDir();
  // Every reading before the held request shows in its query, so the question shows what the
  // first run read; the tight loop reads the clock many times, each answered again on resume.
  const code = `async () => {
    const before = [Date.now(), new Date().getTime()];
    let spins = 0;
    const until = Date.now() + 5;
    while (Date.now() < until) spins++;
    const id = (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/clock", query: { at: before.join("-"), spins } })).result.id;
    return { before, spins, after: Date.now(), id };
  }`;
  let server = await startKeyed("", dataDir);
  let client = (await v2("auto", () => "accept", { url: server.url, manual: true })).client;
  const first = await paused(client, code);
  const [, at, spins] = first.message.match(/^Approve DELETE \/zones\/z1\/dns_records\/clock\?at=(\d+-\d+)&spins=(\d+)\?\n/) ?? [];
  assert.ok(at, first.message);
  await client.close();
  await kill(server);

  server = await startKeyed("", dataDir);
  client = (await v2("auto", () => "accept", { url: server.url, manual: true })).client;
  try {
    const retried = Date.now();
    const done = await retryAccepting(client, code, first);
    assert.equal(done.isError, false, done.text);
    assert.deepEqual(done.json.before.join("-"), at, "the readings before the held request are the first run's");
    assert.equal(done.json.spins, Number(spins), "the tight loop read the same times again");
    assert.ok(done.json.before[0] <= done.json.before[1], done.text);
    assert.ok(done.json.after >= retried, `after the held request the clock is live: ${done.json.after} >= ${retried}`);
    assert.equal(done.json.id, "clock");
    assert.equal(received("DELETE", "/zones/z1/dns_records/clock").length, 1, "the approved request went out once");
  } finally {
    await client.close();
  }
});

test("v2 client, by hand: a resumed run that reads the clock more often than the record before the held request is ended with a clear error, and sends nothing", async () => {
  const code = `async () => {
    const reads = accountId === "account-after" ? 3 : 1;
    for (let i = 0; i < reads; i++) Date.now();
    return (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/clock-diverged" })).result.id;
  }`;
  // The restart's account makes the code read the clock twice more before its request.
  const retried = await retryAfterAccountChange(code);
  assert.equal(retried.isError, true, retried.text);
  assert.match(retried.text, /cannot be resumed here: running its code again read the clock \(`Date`\) more often before its request 1 than the run that paused did\. Nothing more was sent/);
  assert.equal(received("DELETE", "/zones/z1/dns_records/clock-diverged").length, 0);
});

test("v2 client without elicitation on 2026-07-28 gets the approval_required route", async () => {
  const { client } = await v2("auto", null);
  try {
    const result = await execute(client, deleting("deferred"));
    assert.match(result.json?.approval_required?.approval_id ?? "", /^[0-9a-f]{32}$/, result.text);
    assert.equal(received("DELETE", "/zones/z1/dns_records/deferred").length, 0);
  } finally {
    await client.close();
  }
});

test("v2 client in legacy mode (2025-11-25) is asked mid-script with elicitation/create", async () => {
  const { client, asked } = await v2("legacy", () => "accept");
  try {
    const result = await execute(client, deleting("legacy"));
    assert.deepEqual(result.json, { zones: 2, deleted: "legacy" }, result.text);
    assert.equal(asked.length, 1);
    assert.equal(received("DELETE", "/zones/z1/dns_records/legacy").length, 1);
  } finally {
    await client.close();
  }
});

/** `codemode_approvals_decided_total` for approvals given at the client, from /metrics. */
async function approvedAtClient() {
  const page = await (await fetch(server.url.replace(/\/mcp$/, "/metrics"), { headers: { authorization: `Bearer ${ALICE_KEY}` } })).text();
  return Number(page.match(/^codemode_approvals_decided_total\{decision="approved",via="client"\} (\d+)$/m)?.[1]);
}

test("v1 client is asked mid-script with elicitation/create", async () => {
  const approvedBefore = await approvedAtClient();
  const client = await connectHttp(server.url, "v1-client", { capabilities: { elicitation: {} }, headers: { authorization: `Bearer ${ALICE_KEY}` } });
  const asked = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: "accept", content: {} };
  });
  try {
    const result = await call(client, "execute", { code: deleting("v1") });
    assert.deepEqual(result.json, { zones: 2, deleted: "v1" }, result.text);
    assert.equal(asked.length, 1);
    assert.equal(received("DELETE", "/zones/z1/dns_records/v1").length, 1);
    assert.equal(await approvedAtClient(), approvedBefore + 1, "the approval is counted in /metrics");
  } finally {
    await client.close();
  }
});

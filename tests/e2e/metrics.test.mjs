// What an operator watches, through real clients: the /metrics counters after calls made with
// the TypeScript SDK, the W3C traceparent a fake upstream receives, and the spans a fake OTLP
// collector receives. Neither metrics nor spans may carry a credential, code or a path. And
// what a client watches: notifications/tools/list_changed when a refresh changes the tools.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, connectHttp, call, scratchDir, writeConfig, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { runCli } from "./lib/cli.mjs";
import { BINARY } from "./lib/paths.mjs";

const KEY = "metrics-key-5ecr3t-4f3e2d";
const CODE_MARKER = "code-marker-never-exported";

const cleanup = [];
after(async () => {
  for (const stop of cleanup.reverse()) await stop();
});

/** The value of the series `name` whose labels are exactly `labels`; undefined when absent. */
function sample(page, name, labels = {}) {
  for (const line of page.split("\n")) {
    const match = line.match(/^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const same = Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v);
    if (same) return Number(match[3]);
  }
  return undefined;
}

/** Waits until `check()` is true, polling; fails with `describe()` if it never is. */
async function eventually(check, describe, tries = 300) {
  for (let i = 0; i < tries; i += 1) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(describe());
}

/** An OTLP span attribute as tracing-opentelemetry exports a recorded number, in protobuf:
 * KeyValue { key = 1, value = 2: AnyValue { string_value = 1 } }. */
function attribute(key, value) {
  const text = Buffer.from(String(value));
  return Buffer.concat([Buffer.from([0x0a, key.length]), Buffer.from(key), Buffer.from([0x12, text.length + 2, 0x0a, text.length]), text]);
}

/** How many times `needle` occurs in `haystack`. */
function spanCount(haystack, needle) {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count += 1;
  return count;
}

/** A fake OTLP/HTTP collector on loopback: keeps the body of every export. */
async function startCollector() {
  const bodies = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    bodies.push({ path: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
    res.writeHead(200, { "content-type": "application/x-protobuf" });
    res.end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return { url: `http://127.0.0.1:${server.address().port}/v1/traces`, all: () => Buffer.concat(bodies.map((b) => b.body)), bodies };
}

test("/metrics counts calls by tool and outcome, upstream requests by status class, retries, limits and refusals", async () => {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const seenOnce = new Set();
  const api = await startFakeCloudflare({
    routes: {
      // The first request for a zone is refused as unavailable (and retried at once), the next answered.
      "GET /zones/:id": (_req, _body, _url, { id }) => {
        if (seenOnce.has(id)) return { status: 200, json: envelope({ id }) };
        seenOnce.add(id);
        return { status: 503, json: { success: false, errors: [], messages: [], result: null }, headers: { "retry-after": "0" } };
      },
      "GET /zones/:id/settings": async () => {
        await held;
        return { status: 200, json: envelope([]) };
      },
    },
  });
  cleanup.push(() => api.close());
  const config = writeConfig(`
data_dir = "${scratchDir()}"
[sandbox]
executes = 1
[auth]
mode = "keys"
[[auth.keys]]
subject = "metrics-user"
sha256 = "${sha256(KEY)}"
scopes = ["search", "execute:read", "execute:write"]
[limits]
execute_per_session = 1
`);
  const server = await startServer({ args: ["--config", config], apiBase: api.base });
  cleanup.push(() => server.stop());
  const headers = { authorization: `Bearer ${KEY}` };
  const metricsUrl = server.url.replace(/\/mcp$/, "/metrics");
  const scrape = async () => {
    const response = await fetch(metricsUrl, { headers });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^text\/plain/);
    return response.text();
  };
  const before = await scrape();
  assert.equal(sample(before, "codemode_tool_calls_total", { tool: "execute", outcome: "ok" }), 0, "series exist from the start");
  assert.equal((await fetch(metricsUrl)).status, 401, "with auth on, the main listener's /metrics needs a key");

  /** One `execute` in a session of its own (each session may run one). */
  const execute = async (code) => {
    const client = await connectHttp(server.url, "metrics", { headers });
    try {
      return await call(client, "execute", { code });
    } finally {
      await client.close();
    }
  };
  const searcher = await connectHttp(server.url, "metrics", { headers });
  assert.equal((await call(searcher, "search", { code: "async () => Object.keys(spec.paths).length > 0" })).json, true);
  await searcher.close();
  assert.equal((await execute(`async () => (await cloudflare.request({ method: "GET", path: "/zones" })).status`)).json, 200);
  assert.equal((await execute(`async () => (await cloudflare.request({ method: "GET", path: "/zones/zone1" })).status`)).json, 200);
  const missing = await execute(`async () => cloudflare.request({ method: "GET", path: "/zones/zone1/dns_records" }).catch((error) => error.status)`);
  assert.equal(missing.json, 404, missing.text);
  const thrown = await execute(`async () => { throw new Error("${CODE_MARKER}") }`);
  assert.equal(thrown.isError, true);

  // One execute holds the only execute slot on a slow request; the next is refused as busy.
  const holder = await connectHttp(server.url, "metrics", { headers });
  const holding = call(holder, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones/zone2/settings" })).status` });
  await eventually(() => api.requests.some((r) => r.path === "/zones/zone2/settings"), () => "the held request never arrived");
  const busy = await execute("async () => 1");
  assert.equal(busy.isError, true);
  assert.match(busy.text, /execute/i);
  release();
  assert.equal((await holding).json, 200);

  const limited = await connectHttp(server.url, "metrics", { headers });
  assert.equal((await call(limited, "execute", { code: "async () => 1" })).json, 1);
  const refused = await call(limited, "execute", { code: "async () => 2" });
  assert.equal(refused.isError, true);
  assert.match(refused.text, /1 execute calls per session/);
  await limited.close();
  await holder.close();

  const page = await scrape();
  const calls = (tool, outcome) => sample(page, "codemode_tool_calls_total", { tool, outcome });
  assert.equal(calls("search", "ok"), 1);
  assert.equal(calls("execute", "ok"), 5, page);
  assert.equal(calls("execute", "thrown"), 1);
  assert.equal(calls("execute", "busy"), 1);
  assert.equal(calls("execute", "rate_limit"), 1);
  assert.equal(sample(page, "codemode_tool_call_duration_seconds_count", { tool: "execute" }), 8);
  assert.equal(sample(page, "codemode_tool_call_duration_seconds_count", { tool: "search" }), 1);
  assert.equal(sample(page, "codemode_sandbox_refused_total", { reason: "executes" }), 1);
  assert.equal(sample(page, "codemode_sandbox_refused_total", { reason: "queue_full" }), 0);
  assert.equal(sample(page, "codemode_limits_hit_total", { limit: "execute_per_session" }), 1);
  assert.equal(sample(page, "codemode_audit_unavailable_total"), 0);
  const upstream = (status) => sample(page, "codemode_upstream_requests_total", { upstream: "cloudflare", status });
  assert.equal(upstream("2xx"), 3, "/zones, /zones/zone1 (after its retry), /zones/zone2/settings");
  assert.equal(upstream("4xx"), 1);
  assert.equal(upstream("5xx"), 0, "a retried request counts once, by its final status");
  assert.equal(sample(page, "codemode_upstream_retries_total", { upstream: "cloudflare" }), 1);
  assert.equal(sample(page, "codemode_upstream_request_duration_seconds_count", { upstream: "cloudflare" }), 4);
  assert.ok(sample(page, "codemode_audit_commit_duration_seconds_count") >= 9, "every audited call's commit is timed");
  assert.ok(sample(page, "codemode_sandbox_workers") >= 1);
  assert.equal(sample(page, "codemode_sandbox_executes_in_progress"), 0);
  assert.ok(sample(page, "codemode_spec_operations") > 100);
  assert.ok(sample(page, "codemode_spec_age_seconds") >= 0);
  assert.equal(sample(page, "codemode_approvals_pending"), 0);
  for (const secret of [KEY, TEST_TOKEN, CODE_MARKER, "zone1", "metrics-user"]) {
    assert.ok(!page.includes(secret), `${secret} is not in /metrics`);
  }
});

test("a call refused because the sandbox queue is full says busy and counts as queue_full", async () => {
  const config = writeConfig(`
data_dir = "${scratchDir()}"
[sandbox]
workers = 1
queue = 1
search_timeout_secs = 2
`);
  const server = await startServer({ args: ["--config", config] });
  cleanup.push(() => server.stop());
  const metricsUrl = server.url.replace(/\/mcp$/, "/metrics");
  const scrape = async () => (await fetch(metricsUrl)).text();
  const clients = await Promise.all([1, 2, 3].map(() => connectHttp(server.url, "queue")));
  try {
    // The only worker spins until the timeout; the next call waits in the one-place queue.
    const spinning = call(clients[0], "search", { code: "async () => { while (true) {} }" });
    await eventually(async () => sample(await scrape(), "codemode_sandbox_workers_busy") === 1, () => "the worker never started");
    const waiting = call(clients[1], "search", { code: "async () => { while (true) {} }" });
    await eventually(async () => sample(await scrape(), "codemode_sandbox_queued") === 1, () => "the second call never queued");
    const refused = await call(clients[2], "search", { code: "async () => 1" });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /the sandbox is busy: 1 calls are already waiting to run; try again shortly/);
    for (const settled of await Promise.all([spinning, waiting])) assert.equal(settled.isError, true);

    const page = await scrape();
    assert.equal(sample(page, "codemode_sandbox_refused_total", { reason: "queue_full" }), 1, page);
    assert.equal(sample(page, "codemode_sandbox_refused_total", { reason: "executes" }), 0);
    assert.equal(sample(page, "codemode_tool_calls_total", { tool: "search", outcome: "busy" }), 1);
    assert.equal(sample(page, "codemode_sandbox_queued"), 0);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

test("with [traces] on, each call is a span whose upstream request is a child, and the upstream gets the traceparent", async () => {
  const collector = await startCollector();
  let refusedOnce = false;
  const api = await startFakeCloudflare({
    routes: {
      // Unavailable once, then answered: the request's span says it was sent twice.
      "GET /zones/:id": (_req, _body, _url, { id }) => {
        if (refusedOnce) return { status: 200, json: envelope({ id }) };
        refusedOnce = true;
        return { status: 503, json: { success: false, errors: [], messages: [], result: null }, headers: { "retry-after": "0" } };
      },
    },
  });
  cleanup.push(() => api.close());
  const config = writeConfig(`
data_dir = "${scratchDir()}"
[traces]
endpoint = "${collector.url}"
service_name = "codemode-e2e"
[metrics]
listen = "127.0.0.1:0"
`);
  const server = await startServer({ args: ["--config", config], apiBase: api.base, env: { OTEL_BSP_SCHEDULE_DELAY: "100" } });
  cleanup.push(() => server.stop());

  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const incoming = `00-${traceId}-00f067aa0ba902b7-01`;
  const client = await connectHttp(server.url, "traces", { headers: { traceparent: incoming } });
  const r = await call(client, "execute", { code: `async () => { const marker = "${CODE_MARKER}"; return (await cloudflare.request({ method: "GET", path: "/zones" })).status }` });
  assert.equal(r.json, 200, r.text);
  const retried = await call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones/z9" })).status` });
  assert.equal(retried.json, 200, retried.text);
  await client.close();

  const sent = api.requests.find((request) => request.path === "/zones");
  const traceparent = sent.headers.traceparent;
  assert.match(traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `traceparent sent upstream: ${traceparent}`);
  assert.equal(traceparent.split("-")[1], traceId, "the MCP request's trace continues upstream");
  assert.notEqual(traceparent.split("-")[2], "00f067aa0ba902b7", "the upstream request's parent is the server's own span");

  await eventually(
    () => collector.all().includes("tools/call execute") && collector.all().includes(attribute("codemode.attempts", 2)),
    () => `spans received: ${collector.all().toString("latin1").replace(/[^ -~]/g, ".")}`,
  );
  assert.ok(collector.bodies.every((b) => b.path === "/v1/traces" && b.type === "application/x-protobuf"));
  const exported = collector.all();
  assert.ok(exported.includes(Buffer.from(traceId, "hex")), "the spans carry the incoming trace id");
  assert.ok(exported.includes(Buffer.from(traceparent.split("-")[2], "hex")), "the upstream span is the one whose id went upstream");
  assert.ok(exported.includes("codemode-e2e"), "service.name");
  assert.equal(spanCount(exported, attribute("codemode.attempts", 1)), 1, "GET /zones was sent once");
  assert.equal(spanCount(exported, attribute("codemode.attempts", 2)), 1, "GET /zones/z9 was sent twice: once refused with 503, once answered");
  assert.equal(spanCount(exported, attribute("http.response.status_code", 200)), 2, "both upstream spans carry the final status");
  assert.ok(!server.output().includes("tools/call execute"), "the spans stay out of the log");
  for (const secret of [TEST_TOKEN, CODE_MARKER, "Bearer"]) {
    assert.ok(!exported.includes(secret), `${secret} is not in the spans`);
  }

  // With [metrics] listen, /metrics is served there, without auth, and not on the main listener.
  const own = server.output().match(/serving metrics on (http:\/\/\S+\/metrics)/)[1];
  const page = await (await fetch(own)).text();
  assert.equal(sample(page, "codemode_tool_calls_total", { tool: "execute", outcome: "ok" }), 2, "both executes");
  assert.equal((await fetch(server.url.replace(/\/mcp$/, "/metrics"))).status, 404);
});

test("with traces off, the upstream gets no traceparent", async () => {
  const api = await startFakeCloudflare();
  cleanup.push(() => api.close());
  const server = await startServer({ apiBase: api.base });
  cleanup.push(() => server.stop());
  const client = await connectHttp(server.url, "no-traces", { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
  assert.equal((await call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).status` })).json, 200);
  await client.close();
  assert.equal(api.requests.find((request) => request.path === "/zones").headers.traceparent, undefined);
});

test("a refresh that changes the tools sends notifications/tools/list_changed to open sessions", { timeout: 60_000 }, async () => {
  const specWith = (title) => JSON.stringify({
    openapi: "3.0.3",
    info: { title, version: "1" },
    paths: { "/zones": { get: { operationId: "listZones", tags: ["Zones"], responses: { 200: { description: "ok" } } } } },
  });
  let document = specWith("First Test API");
  const specServer = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(document);
  });
  await new Promise((resolve) => specServer.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise((resolve) => { specServer.closeAllConnections(); specServer.close(resolve); }));
  const specUrl = `http://127.0.0.1:${specServer.address().port}/openapi.json`;
  const server = await startServer({ spec: specUrl, env: { XDG_CACHE_HOME: scratchDir() } });
  cleanup.push(() => server.stop());

  const client = await connectHttp(server.url, "list-changed");
  assert.equal(client.getServerCapabilities().tools?.listChanged, true);
  let notified = 0;
  let onNotified;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    notified += 1;
    onNotified?.();
  });
  const first = await client.listTools();
  assert.match(JSON.stringify(first.tools), /First Test API/);

  // The same document again changes nothing, and no one is told.
  server.child.kill("SIGHUP");
  await eventually(() => /spec (unchanged|refreshed)/.test(server.output()), () => server.output());
  const told = new Promise((resolve) => (onNotified = resolve));
  document = specWith("Second Test API");
  server.child.kill("SIGHUP");
  await told;
  assert.equal(notified, 1, "told once, for the change");
  const second = await client.listTools();
  assert.match(JSON.stringify(second.tools), /Second Test API/);
  await client.close();
});

test("config check names [metrics] listen and [traces] endpoint when they cannot work", async () => {
  const config = writeConfig(['[metrics]', 'listen = "nowhere"', '[traces]', 'endpoint = "collector:4318"'].join("\n"));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, XDG_DATA_HOME: scratchDir() };
  const bad = await runCli(BINARY, ["config", "check", "--demo", "--config", config], { env });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /2 problems/);
  assert.match(bad.stderr, /metrics\.listen/);
  assert.match(bad.stderr, /traces\.endpoint.*http:\/\//);
  const good = writeConfig(['[metrics]', 'listen = "localhost:9464"', '[traces]', 'endpoint = "http://127.0.0.1:4318/v1/traces"'].join("\n"));
  const ok = await runCli(BINARY, ["config", "check", "--demo", "--config", good], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

// Running codemode as an operator does: config check, CODEMODE_ variables, health and
// readiness while the spec loads, a JSON log line per call, and spec refresh (conditional
// downloads, a bad download that must not replace the good spec, SIGHUP while a call runs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startServer, connectHttp, call, scratchDir, writeConfig, sha256, waitFor } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { runCli } from "./lib/cli.mjs";
import { BINARY } from "./lib/paths.mjs";

const cleanup = [];
after(async () => {
  for (const stop of cleanup.reverse()) await stop();
});

/** A small OpenAPI document whose title and GET paths are the ones given. */
function specWith(title, paths) {
  const operation = (p) => [p, { get: { operationId: `get${p.replaceAll("/", "_")}`, tags: ["Ops"], responses: { 200: { description: "ok" } } } }];
  return JSON.stringify({ openapi: "3.0.3", info: { title, version: "1" }, paths: Object.fromEntries(paths.map(operation)) });
}

/** A loopback spec server: `answers` is a list of {status, body, headers}, served in order (the last repeats). */
async function startSpecServer(answers) {
  const seen = [];
  let next = 0;
  const server = http.createServer(async (req, res) => {
    seen.push({ ifNoneMatch: req.headers["if-none-match"] });
    const answer = answers[Math.min(next, answers.length - 1)];
    next += 1;
    if (answer.hold) await answer.hold;
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body ?? "");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return { url: `http://127.0.0.1:${server.address().port}/openapi.json`, seen };
}

const env = (extra = {}) => ({ PATH: process.env.PATH, HOME: process.env.HOME, XDG_DATA_HOME: scratchDir(), XDG_CACHE_HOME: scratchDir(), ...extra });

test("config check reports every problem at once, each naming its key, and passes a good config", async () => {
  const config = writeConfig([
    'listen = "0.0.0.0:8790"',
    'spec = "/no/such/spec.json"',
    "[sandbox]",
    "workers = 0",
    "[http]",
    'shutdown_grace_secs = "2m"',
  ].join("\n"));
  const bad = await runCli(BINARY, ["config", "check", "--config", config], { env: env({ CODEMODE_LIMITS__MAX_CODE_CHARS: "many" }) });
  assert.equal(bad.code, 1, bad.stderr);
  for (const key of ["CODEMODE_LIMITS__MAX_CODE_CHARS", "workers", "`spec`", "http.allowed_hosts", "auth.mode"]) {
    assert.ok(bad.stderr.includes(key), `${key} named in:\n${bad.stderr}`);
  }
  assert.match(bad.stderr, /5 problems/);
  assert.ok(!bad.stderr.includes("shutdown_grace_secs"), "2m is a valid duration");

  const good = await runCli(BINARY, ["config", "check", "--demo", "--listen", "localhost:8799"], { env: env() });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /settings ok: listen 127\.0\.0\.1:8799/);
});

test("serve checks the settings before loading the spec or opening the audit log", async () => {
  const data = scratchDir();
  const r = await runCli(BINARY, ["serve", "--demo", "--listen", "0.0.0.0:0"], { env: env({ XDG_DATA_HOME: data }) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /http\.allowed_hosts/);
  assert.match(r.stderr, /auth\.mode/);
  assert.ok(!r.stderr.includes("ready") && !r.stderr.includes("audit log open"), r.stderr);
});

test("CODEMODE_ variables set config keys: the demo and keys auth, from the environment alone", async () => {
  const key = "ops-e2e-key-9f8e7d";
  const server = await startServer({
    spec: null,
    token: null,
    env: {
      CODEMODE_DEMO: "true",
      CODEMODE_AUTH: `{ mode = "keys", keys = [{ subject = "env-user", scopes = ["search"], sha256 = "${sha256(key)}" }] }`,
    },
  });
  cleanup.push(() => server.stop());
  const health = await (await fetch(server.url.replace("/mcp", "/healthz"))).json();
  assert.equal(health.spec, "Demo API");
  const refused = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
  assert.equal(refused.status, 401);
  const client = await connectHttp(server.url, "ops-env", { headers: { authorization: `Bearer ${key}` } });
  cleanup.push(() => client.close());
  const r = await call(client, "search", { code: "async () => Object.keys(spec.paths).length" });
  assert.equal(r.isError, false, r.text);
  assert.ok(r.json > 0, r.text);
});

test("the port opens at once: /healthz answers, /readyz and /mcp say 503 until the spec has loaded", async () => {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const specs = await startSpecServer([{ status: 200, body: specWith("Held", ["/zones"]), hold: held }]);
  const child = spawn(BINARY, ["serve", "--listen", "127.0.0.1:0", "--spec", specs.url], { env: env(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr.on("data", (d) => (output += d));
  cleanup.push(async () => {
    release();
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  });
  const [, address] = await waitFor(() => output, /port open.*address=(\S+)/);
  const base = `http://${address}`;
  const alive = await fetch(`${base}/healthz`);
  assert.equal(alive.status, 200);
  const notReady = await fetch(`${base}/readyz`);
  assert.equal(notReady.status, 503);
  assert.equal((await notReady.json()).reasons.spec, "still loading");
  const mcp = await fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }) });
  assert.equal(mcp.status, 503);
  assert.match((await mcp.json()).error, /still loading the API spec/);

  release();
  await waitFor(() => output, /listening on http:\/\/\S+\/mcp/);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  assert.ok(output.indexOf("audit log open") < output.indexOf(" ready "), output);
});

test("--log-format json writes one line per tool call, without the code, its result or the token", async () => {
  const api = await startFakeCloudflare();
  const server = await startServer({ apiBase: api.base, args: ["--log-format", "json"] });
  const client = await connectHttp(server.url);
  cleanup.push(() => api.close(), () => server.stop(), () => client.close());
  const marker = "code-marker-6c1f";
  await call(client, "search", { code: `async () => "${marker}-search".length` });
  const r = await call(client, "execute", { code: `async () => { const z = await cloudflare.request({ method: "GET", path: "/zones" }); return "${marker}" + z.result.length; }` });
  assert.equal(r.isError, false, r.text);
  const lines = server.output().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
  const calls = lines.filter((line) => line.message === "tool call");
  assert.equal(calls.length, 2, server.output());
  const [search, execute] = calls;
  assert.equal(search.tool, "search");
  assert.equal(search.outcome, "ok");
  assert.equal(execute.tool, "execute");
  assert.equal(execute.upstream_requests, 1);
  assert.equal(typeof execute.duration_ms, "number");
  assert.ok(execute.subject && execute.session, JSON.stringify(execute));
  const start = lines.find((line) => line.message === "starting codemode");
  assert.ok(start?.version && start.spec && start.listen, `start-up line: ${JSON.stringify(start)}`);
  assert.equal(start.auth, "none", "the auth mode as it is written in the config");
  const ready = lines.find((line) => line.message === "ready");
  assert.ok(ready?.operations > 0, `ready line: ${JSON.stringify(ready)}`);
  assert.equal(ready.origin, "file", "where the spec came from, in words");
  const output = server.output();
  assert.ok(!output.includes(marker), "no code or result in the log");
  assert.ok(!output.includes(TEST_TOKEN), "no token in the log");
  assert.ok(!/\bINFO\b.*rmcp|"target":"rmcp/.test(output), "rmcp's per-session lines are DEBUG");
});

test("refresh: a 304 keeps the spec, an HTML page with status 200 neither replaces it nor poisons the cache", async () => {
  const cache = scratchDir();
  const specs = await startSpecServer([
    { status: 200, body: specWith("Version One", ["/version-one"]), headers: { etag: '"v1"', "content-type": "application/json" } },
    { status: 304, headers: { etag: '"v1"' } },
    { status: 200, body: "<!doctype html><title>Just a moment...</title>", headers: { etag: '"html"', "content-type": "text/html" } },
  ]);
  const first = await startServer({ spec: specs.url, env: { XDG_CACHE_HOME: cache } });
  cleanup.push(() => first.stop());
  const client = await connectHttp(first.url);
  cleanup.push(() => client.close());
  first.child.kill("SIGHUP");
  await waitFor(first.output, /spec unchanged/);
  first.child.kill("SIGHUP");
  await waitFor(first.output, /spec refresh failed.*not a usable spec/);
  const r = await call(client, "search", { code: "async () => Object.keys(spec.paths)" });
  assert.deepEqual(r.json, ["/version-one"], "the last good spec stays in service");
  assert.equal(specs.seen[1].ifNoneMatch, '"v1"', "the refresh asked conditionally");
  await first.stop();

  const second = await startServer({ spec: specs.url, env: { XDG_CACHE_HOME: cache } });
  cleanup.push(() => second.stop());
  assert.match(second.output(), /using the cached copy/);
  const again = await connectHttp(second.url);
  cleanup.push(() => again.close());
  const r2 = await call(again, "search", { code: "async () => Object.keys(spec.paths)" });
  assert.deepEqual(r2.json, ["/version-one"], "the cache still holds the good spec after the HTML page");
});

test("SIGHUP swaps in a changed spec file while a call runs; the call finishes on the old spec", async () => {
  const dir = scratchDir();
  const specFile = path.join(dir, "spec.json");
  writeFileSync(specFile, specWith("Before", ["/slow", "/old-only"]));
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const api = await startFakeCloudflare({
    routes: {
      "GET /slow": async () => {
        await held;
        return { status: 200, json: envelope("slow done") };
      },
      "GET /old-only": () => ({ status: 200, json: envelope("old path answered") }),
    },
  });
  const server = await startServer({ spec: specFile, apiBase: api.base });
  const client = await connectHttp(server.url);
  cleanup.push(() => api.close(), () => server.stop(), () => client.close());
  const running = call(client, "execute", {
    code: `async () => {
      const slow = await cloudflare.request({ method: "GET", path: "/slow" });
      const old = await cloudflare.request({ method: "GET", path: "/old-only" });
      return [slow.result, old.result];
    }`,
  });
  await waitFor(() => (api.requests.some((r) => r.path === "/slow") ? "seen" : ""), /seen/);
  writeFileSync(specFile, specWith("After", ["/slow", "/new-only"]));
  server.child.kill("SIGHUP");
  await waitFor(server.output, /spec refreshed/);
  const now = await call(client, "search", { code: "async () => Object.keys(spec.paths)" });
  assert.deepEqual(now.json, ["/slow", "/new-only"]);
  release();
  const finished = await running;
  assert.equal(finished.isError, false, finished.all);
  assert.deepEqual(finished.json, ["slow done", "old path answered"], "the running call kept the spec it started on");
  const refused = await call(client, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/old-only" })` });
  assert.equal(refused.isError, true, "new calls check requests against the new spec");
});

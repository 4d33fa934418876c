// Live output of `execute` and cancellation, through the official TypeScript SDK.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, connectStdio, call, writeConfig } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope } from "./lib/fake-cloudflare.mjs";

let api, server;

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "GET /zones/:zone_id": () => ({ status: 200, json: envelope({ id: "z" }), delayMs: 600 }),
    },
  });
  // One worker: a call that is not stopped keeps every later call waiting.
  const config = writeConfig(`
[sandbox]
workers = 1
execute_timeout_secs = 60
search_timeout_secs = 60
`);
  server = await startServer({ apiBase: api.base, args: ["--config", config] });
});

after(async () => {
  await server?.stop();
  await api?.close();
});

function recordLogs(client, events, started) {
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    events.push({ kind: "log", level: n.params.level, data: n.params.data, at: Date.now() - started });
  });
}

test("console lines stream as notifications/message before the result, and progress follows requests", async () => {
  const client = await connectHttp(server.url);
  const started = Date.now();
  const events = [];
  recordLogs(client, events, started);
  const progress = [];
  const result = await client.callTool(
    {
      name: "execute",
      arguments: {
        code: `async () => {
          console.log("first line");
          await cloudflare.request({ method: "GET", path: "/zones/a" });
          console.warn("second line");
          await cloudflare.request({ method: "GET", path: "/zones/b" });
          return "done";
        }`,
      },
    },
    undefined,
    { onprogress: (p) => progress.push({ ...p, at: Date.now() - started }) },
  );
  const finished = Date.now() - started;
  assert.notEqual(result.isError, true, JSON.stringify(result));
  assert.deepEqual(events.map((e) => e.data), ["first line", "second line"]);
  assert.deepEqual(events.map((e) => e.level), ["info", "warning"]);
  assert.ok(events[0].at < finished - 900, `first line at ${events[0].at} ms, result at ${finished} ms`);
  assert.equal(progress.length, 2, JSON.stringify(progress));
  assert.match(progress[0].message, /GET \/zones\/a/);
  assert.ok(progress[0].at < finished - 400);
  assert.match(result.content.slice(1).map((c) => c.text).join("\n"), /first line[\s\S]*second line/);
  await client.close();
});

test("logging/setLevel filters the live lines but not the result", async () => {
  const client = await connectHttp(server.url);
  const events = [];
  recordLogs(client, events, Date.now());
  await client.setLoggingLevel("warning");
  // The request after the lines gives them time to arrive on the session's stream first.
  const result = await call(client, "execute", {
    code: `async () => { console.log("quiet"); console.error("loud"); await cloudflare.request({ method: "GET", path: "/zones/x" }); return 1 }`,
  });
  assert.deepEqual(events.map((e) => e.data), ["loud"]);
  assert.match(result.all, /quiet/);
  await client.close();
});

test("stdio streams console lines too", async () => {
  const { client } = await connectStdio({ args: ["--demo"], token: null });
  const events = [];
  recordLogs(client, events, Date.now());
  const result = await call(client, "execute", { code: `async () => { console.log("over stdio"); return 2 }` });
  assert.equal(result.json, 2);
  assert.deepEqual(events.map((e) => e.data), ["over stdio"]);
  await client.close();
});

async function assertSlotFree(client) {
  const started = Date.now();
  const r = await call(client, "search", { code: "async () => 'free'" });
  assert.equal(r.json, "free", r.text);
  assert.ok(Date.now() - started < 5_000, "the worker was freed");
}

test("notifications/cancelled stops the running sandbox and frees its slot", async () => {
  const client = await connectHttp(server.url);
  const controller = new AbortController();
  const running = client.callTool({ name: "execute", arguments: { code: "async () => { for (;;) {} }" } }, undefined, { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 300));
  controller.abort("user pressed stop");
  await assert.rejects(running);
  await assertSlotFree(client);
  const pending = client.callTool({ name: "execute", arguments: { code: `async () => { await cloudflare.request({ method: "GET", path: "/zones/slow" }); for (;;) {} }` } }, undefined, { signal: AbortSignal.timeout(1_000) });
  await assert.rejects(pending);
  await assertSlotFree(client);
  await client.close();
});

test("a client that disconnects mid-call stops its sandbox", async () => {
  const client = await connectHttp(server.url);
  const init = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  const session = init.headers.get("mcp-session-id");
  await init.text();
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
  await fetch(server.url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  const controller = new AbortController();
  const response = await fetch(server.url, {
    method: "POST",
    headers,
    signal: controller.signal,
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "execute", arguments: { code: "async () => { for (;;) {} }" } } }),
  }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 300));
  controller.abort();
  if (response?.body) await response.body.cancel().catch(() => {});
  await assertSlotFree(client);
  await client.close();
});

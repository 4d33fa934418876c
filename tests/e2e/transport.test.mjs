// Transport behaviour expected of a public server: sessions, stateless mode, Host and Origin
// checks, CORS, body limits and graceful shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn } from "node:child_process";
import { startServer, connectHttp, call } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope } from "./lib/fake-cloudflare.mjs";
import { BINARY } from "./lib/paths.mjs";

const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const ACCEPT = "application/json, text/event-stream";

/** A raw HTTP request, so that Host and Origin can be set freely. */
function request(url, { method = "POST", headers = {}, body } = {}) {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method, headers }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(typeof body === "string" ? body : JSON.stringify(body));
    req.end();
  });
}

const demo = (args = []) => startServer({ args: ["--demo", ...args], spec: null, token: null });

test("sessions: initialize issues Mcp-Session-Id, DELETE ends the session", async () => {
  const server = await demo();
  try {
    const init = await request(server.url, { headers: { "content-type": "application/json", accept: ACCEPT }, body: INIT });
    assert.equal(init.status, 200);
    const session = init.headers["mcp-session-id"];
    assert.ok(session, "a session id");
    const headers = { "content-type": "application/json", accept: ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
    const ended = await request(server.url, { method: "DELETE", headers });
    assert.ok(ended.status >= 200 && ended.status < 300, `DELETE answered ${ended.status}`);
    const after = await request(server.url, { headers, body: { jsonrpc: "2.0", id: 2, method: "tools/list" } });
    assert.equal(after.status, 404, "a deleted session is gone");
  } finally {
    await server.stop();
  }
});

test("a session that ends releases what was counted for it", async () => {
  const server = await demo();
  try {
    const client = await connectHttp(server.url);
    await call(client, "search", { code: "async () => 1" });
    const session = client.transport.sessionId;
    assert.ok(session);
    await client.transport.terminateSession();
    await client.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.match(server.output(), new RegExp(`session ended session=${session}`));
  } finally {
    await server.stop();
  }
});

test("--stateless serves every request on its own, without sessions", async () => {
  const server = await demo(["--stateless"]);
  try {
    const init = await request(server.url, { headers: { "content-type": "application/json", accept: ACCEPT }, body: INIT });
    assert.equal(init.status, 200);
    assert.equal(init.headers["mcp-session-id"], undefined);
    const client = await connectHttp(server.url);
    const r = await call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length` });
    assert.ok(r.json >= 1, r.text);
    await client.close();
  } finally {
    await server.stop();
  }
});

test("Host and Origin are checked on loopback by default", async () => {
  const server = await demo();
  try {
    const base = { "content-type": "application/json", accept: ACCEPT };
    const evilHost = await request(server.url, { headers: { ...base, host: "evil.example" }, body: INIT });
    assert.equal(evilHost.status, 403, "a foreign Host header is refused (DNS rebinding)");
    const evilOrigin = await request(server.url, { headers: { ...base, origin: "http://evil.example" }, body: INIT });
    assert.equal(evilOrigin.status, 403, "a foreign Origin is refused");
    const localOrigin = await request(server.url, { headers: { ...base, origin: "http://localhost:5173" }, body: INIT });
    assert.equal(localOrigin.status, 200);
  } finally {
    await server.stop();
  }
});

test("a non-loopback address without allowed hosts refuses to start, and explains", async () => {
  const child = spawn(BINARY, ["serve", "--demo", "--listen", "0.0.0.0:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr.on("data", (d) => (output += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.notEqual(code, 0);
  assert.match(output, /allowed-host/);
  assert.match(output, /DNS.rebinding/i);
  const allowed = await startServer({ args: ["--demo", "--allowed-host", "127.0.0.1", "--allowed-host", "127.0.0.1:*"], spec: null, token: null });
  await allowed.stop();
});

test("CORS is off by default and on for configured origins", async () => {
  const preflight = { method: "OPTIONS", headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type,mcp-session-id" } };
  const plain = await demo();
  try {
    const r = await request(plain.url, preflight);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
  } finally {
    await plain.stop();
  }
  const cors = await demo(["--cors-origin", "http://app.example", "--allowed-origin", "http://app.example"]);
  try {
    const r = await request(cors.url, preflight);
    assert.equal(r.headers["access-control-allow-origin"], "http://app.example");
    assert.match(r.headers["access-control-allow-headers"] ?? "", /mcp-session-id/);
  } finally {
    await cors.stop();
  }
});

test("an oversized request body is refused with 413 and the server keeps serving", async () => {
  const server = await demo();
  try {
    const huge = { ...INIT, params: { ...INIT.params, padding: "x".repeat(2 * 1024 * 1024) } };
    const r = await request(server.url, { headers: { "content-type": "application/json", accept: ACCEPT }, body: huge });
    assert.equal(r.status, 413);
    const client = await connectHttp(server.url);
    assert.equal((await call(client, "search", { code: "async () => 1" })).json, 1);
    await client.close();
  } finally {
    await server.stop();
  }
});

test("malformed JSON-RPC gets a clear error and the server keeps serving", async () => {
  const server = await demo();
  try {
    const r = await request(server.url, { headers: { "content-type": "application/json", accept: ACCEPT }, body: "{not json" });
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    assert.match(r.text, /deserialize|parse|json/i);
    const client = await connectHttp(server.url);
    const unknown = await client.callTool({ name: "nope", arguments: {} }).catch((e) => e);
    assert.match(String(unknown.message ?? unknown), /unknown tool/);
    await client.close();
  } finally {
    await server.stop();
  }
});

test("SIGTERM lets in-flight calls finish, then the server exits", async () => {
  const api = await startFakeCloudflare({ routes: { "GET /zones/:id": () => ({ status: 200, json: envelope({ id: "slow" }), delayMs: 1500 }) } });
  const server = await startServer({ apiBase: api.base });
  try {
    const client = await connectHttp(server.url);
    const running = call(client, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones/slow" })).result.id` });
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((resolve) => server.child.once("exit", (code, signal) => resolve({ code, signal })));
    server.child.kill("SIGTERM");
    const result = await running;
    assert.equal(result.json, "slow", result.text);
    const { code } = await exited;
    assert.equal(code, 0);
    assert.match(server.output(), /shutting down/);
  } finally {
    await server.stop();
    await api.close();
  }
});

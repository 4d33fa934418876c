// Who may call: API keys, OAuth access tokens, scopes, read-only principals and forwarded
// upstream credentials, through the official SDK and raw HTTP, against a fake API and a fake issuer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, connectHttp, call, writeConfig, sha256, waitFor } from "./lib/codemode.mjs";

const secret = (label) => `${label}-${randomBytes(16).toString("hex")}`;

const ALL_SCOPES = ["search", "execute:read", "execute:write", "approve"];
const SERVER_TOKEN = secret("server-wide-upstream-token");
const USER_TOKEN = secret("forwarded-user-token");
const KEYS = {
  alice: { key: secret("ck-alice"), scopes: ALL_SCOPES, forward: true },
  bob: { key: secret("ck-bob"), scopes: ["search", "execute:read"], forward: false },
  carol: { key: secret("ck-carol"), scopes: ["execute:read", "execute:write"], forward: false },
  dave: { key: secret("ck-dave"), scopes: ["search"], forward: false },
};
const UNKNOWN_KEY = secret("ck-unknown");

const ISSUER = "https://issuer.codemode.test";
const RESOURCE = "https://codemode.test/mcp";
const METADATA_URL = "https://codemode.test/.well-known/oauth-protected-resource/mcp";
const FORWARD_SCOPE = "upstream:forward";
const KID = "test-key-1";
const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const strangerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const minted = [];

/** A signed RS256 access token; `claims` override the valid defaults. */
function mintJwt(claims = {}, { key = signingKey.privateKey, kid = KID } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const encode = (part) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const header = encode({ alg: "RS256", typ: "at+jwt", kid });
  const payload = encode({ iss: ISSUER, sub: "oauth-user", aud: RESOURCE, iat: now, nbf: now - 5, exp: now + 300, scope: "search execute:read", ...claims });
  const signature = sign("sha256", Buffer.from(`${header}.${payload}`), key).toString("base64url");
  const jwt = `${header}.${payload}.${signature}`;
  minted.push(jwt);
  return jwt;
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });
const forwarding = (token) => ({ "x-upstream-authorization": `Bearer ${token}` });

/** A loopback HTTP server answering `handler(req, body)` with `{status, json}`. */
async function listen(handler) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const { status, json } = handler(req, Buffer.concat(chunks).toString("utf8"));
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(json));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/**
 * A fake upstream API that accepts exactly the server-wide and the forwarded token, answers
 * which one it saw (never the token itself), and records every request.
 */
async function startFakeApi() {
  const callers = new Map([[SERVER_TOKEN, "server"], [USER_TOKEN, "user"]]);
  const requests = [];
  const envelope = (result) => ({ success: true, errors: [], messages: [], result });
  const api = await listen((req, body) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const caller = callers.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    if (!caller) return { status: 401, json: { success: false, errors: [{ code: 10000, message: "Authentication error" }], messages: [], result: null } };
    if (req.method === "GET" && req.url === "/client/v4/user") return { status: 200, json: envelope({ caller }) };
    if (req.method === "POST" && req.url === "/client/v4/zones") return { status: 200, json: envelope({ caller, created: JSON.parse(body).name }) };
    return { status: 404, json: { success: false, errors: [{ code: 7003, message: "No route" }], messages: [], result: null } };
  });
  return { base: `${api.origin}/client/v4`, requests, close: api.close };
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const INITIALIZE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw-http", version: "1.0.0" } } };

/** One raw POST to the MCP endpoint: status, headers and the whole body. */
async function post(url, message, headers = {}) {
  const response = await fetch(url, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(message) });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Initializes a raw MCP session with `headers` and returns a `tools/call` sender for it. */
async function rawSession(url, headers) {
  const init = await post(url, INITIALIZE, headers);
  assert.equal(init.status, 200, init.text);
  const session = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id"), "mcp-protocol-version": "2025-11-25" };
  const initialized = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
  assert.equal(initialized.status, 202, initialized.text);
  return (name, args) => post(url, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }, session);
}

/** The HTTP status the SDK reports when connecting with `headers` is refused. */
async function refusedConnect(url, headers) {
  try {
    await (await connectHttp(url, "auth-e2e", { headers })).close();
    return "connected";
  } catch (error) {
    return error.code;
  }
}

let api, jwks, keysServer, oauthServer, keysDataDir, oauthDataDir;
const clients = [];
const results = [];

/** Connects an SDK client with `headers` and keeps it for closing. */
async function client(server, headers) {
  const connected = await connectHttp(server.url, "auth-e2e", { headers });
  clients.push(connected);
  return connected;
}

/** Calls a tool and keeps the result for the secrets check. */
async function tool(connected, name, args) {
  const result = await call(connected, name, args);
  results.push(JSON.stringify(result.raw));
  return result;
}

const SEARCH_USER = `async () => "get" in spec.paths["/user"]`;
const WHO_AM_I = `async () => (await cloudflare.request({ method: "GET", path: "/user" })).result.caller`;

before(async () => {
  api = await startFakeApi();
  const jwk = { ...signingKey.publicKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" };
  jwks = await listen(() => ({ status: 200, json: { keys: [jwk] } }));
  keysDataDir = mkdtempSync(path.join(tmpdir(), "codemode-auth-keys-"));
  oauthDataDir = mkdtempSync(path.join(tmpdir(), "codemode-auth-oauth-"));
  const keyEntries = Object.entries(KEYS).map(([subject, { key, scopes, forward }]) => `
[[auth.keys]]
subject = "${subject}"
sha256 = "${sha256(key)}"
scopes = ${JSON.stringify(scopes)}
forward = ${forward}
`);
  const keysConfig = writeConfig(`data_dir = ${JSON.stringify(keysDataDir)}\n[auth]\nmode = "keys"\n${keyEntries.join("")}`);
  const oauthConfig = writeConfig(`data_dir = ${JSON.stringify(oauthDataDir)}
[auth]
mode = "oauth"
issuer = "${ISSUER}"
jwks_url = "${jwks.origin}/jwks"
resource = "${RESOURCE}"
forward_scope = "${FORWARD_SCOPE}"
`);
  [keysServer, oauthServer] = await Promise.all([
    startServer({ apiBase: api.base, token: SERVER_TOKEN, args: ["--config", keysConfig] }),
    startServer({ apiBase: api.base, token: SERVER_TOKEN, args: ["--config", oauthConfig] }),
  ]);
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await keysServer?.stop();
  await oauthServer?.stop();
  await api?.close();
  await jwks?.close();
  for (const dir of [keysDataDir, oauthDataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test("keys: a request without a key is refused with a bare Bearer challenge", async () => {
  const response = await post(keysServer.url, INITIALIZE);
  assert.equal(response.status, 401, response.text);
  assert.equal(response.headers.get("www-authenticate"), "Bearer");
  assert.equal(JSON.parse(response.text).error, "unauthorized");
  assert.equal(await refusedConnect(keysServer.url, {}), 401);
  const metadata = await fetch(new URL("/.well-known/oauth-protected-resource/mcp", keysServer.url));
  assert.equal(metadata.status, 404, "keys mode has no resource metadata");
});

test("keys: an unknown key is refused as an invalid token", async () => {
  const response = await post(keysServer.url, INITIALIZE, bearer(UNKNOWN_KEY));
  assert.equal(response.status, 401, response.text);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer error="invalid_token", error_description="unknown API key"');
  assert.equal(await refusedConnect(keysServer.url, bearer(UNKNOWN_KEY)), 401);
});

test("keys: a valid key can search and execute through the SDK", async () => {
  const alice = await client(keysServer, bearer(KEYS.alice.key));
  const search = await tool(alice, "search", { code: SEARCH_USER });
  assert.equal(search.isError, false, search.text);
  assert.equal(search.json, true);
  const execute = await tool(alice, "execute", { code: WHO_AM_I });
  assert.equal(execute.isError, false, execute.text);
  assert.equal(execute.json, "server");
});

test("keys: a tools/call beyond the key's scopes is refused with 403 insufficient_scope", async () => {
  const carol = await rawSession(keysServer.url, bearer(KEYS.carol.key));
  const search = await carol("search", { code: "async () => 1" });
  assert.equal(search.status, 403, search.text);
  assert.equal(search.headers.get("www-authenticate"), 'Bearer error="insufficient_scope", scope="search"');
  assert.equal(JSON.parse(search.text).error, "insufficient_scope");

  const dave = await rawSession(keysServer.url, bearer(KEYS.dave.key));
  const execute = await dave("execute", { code: "async () => 1" });
  assert.equal(execute.status, 403, execute.text);
  assert.equal(execute.headers.get("www-authenticate"), 'Bearer error="insufficient_scope", scope="execute:read"');
  const allowed = await dave("search", { code: "async () => 1" });
  assert.equal(allowed.status, 200, allowed.text);

  const sdk = await client(keysServer, bearer(KEYS.dave.key));
  await assert.rejects(sdk.callTool({ name: "execute", arguments: { code: "async () => 1" } }), (error) => error.code === 403);
});

test("keys: a read-only key can GET, but its POST is refused naming execute:write", async () => {
  api.requests.length = 0;
  const bob = await client(keysServer, bearer(KEYS.bob.key));
  const caught = await tool(bob, "execute", {
    code: `async () => {
      const read = await cloudflare.request({ method: "GET", path: "/user" });
      try { await cloudflare.request({ method: "POST", path: "/zones", body: { name: "bob.example" } }); return { read: read.result, write: "sent" }; }
      catch (e) { return { read: read.result, write: e.message }; }
    }`,
  });
  assert.equal(caught.isError, false, caught.text);
  assert.deepEqual(caught.json.read, { caller: "server" });
  assert.match(caught.json.write, /execute:write/);
  const uncaught = await tool(bob, "execute", { code: `async () => cloudflare.request({ method: "POST", path: "/zones", body: { name: "bob.example" } })` });
  assert.equal(uncaught.isError, true);
  assert.match(uncaught.text, /execute:write/);
  assert.deepEqual(api.requests.map((r) => r.method), ["GET"], "no POST may reach the API");

  const alice = await client(keysServer, bearer(KEYS.alice.key));
  const write = await tool(alice, "execute", { code: `async () => (await cloudflare.request({ method: "POST", path: "/zones", body: { name: "alice.example" } })).result` });
  assert.equal(write.isError, false, write.text);
  assert.deepEqual(write.json, { caller: "server", created: "alice.example" });
});

test("keys: a forwarding key's own upstream token wins over the server-wide one", async () => {
  api.requests.length = 0;
  const forwarded = await client(keysServer, { ...bearer(KEYS.alice.key), ...forwarding(USER_TOKEN) });
  const viaUser = await tool(forwarded, "execute", { code: WHO_AM_I });
  assert.equal(viaUser.isError, false, viaUser.text);
  assert.equal(viaUser.json, "user");
  assert.equal(api.requests.at(-1).headers.authorization, `Bearer ${USER_TOKEN}`);

  const plain = await client(keysServer, bearer(KEYS.alice.key));
  assert.equal((await tool(plain, "execute", { code: WHO_AM_I })).json, "server");
  assert.equal(api.requests.at(-1).headers.authorization, `Bearer ${SERVER_TOKEN}`);
});

test("keys: a key without forward = true may not send an upstream token", async () => {
  api.requests.length = 0;
  const response = await post(keysServer.url, INITIALIZE, { ...bearer(KEYS.bob.key), ...forwarding(USER_TOKEN) });
  assert.equal(response.status, 403, response.text);
  assert.match(JSON.parse(response.text).error_description, /X-Upstream-Authorization/);
  assert.equal(await refusedConnect(keysServer.url, { ...bearer(KEYS.bob.key), ...forwarding(USER_TOKEN) }), 403);
  assert.equal(api.requests.length, 0);
});

test("oauth: the protected resource metadata names the resource, issuer and scopes", async () => {
  for (const wellKnown of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
    const response = await fetch(new URL(wellKnown, oauthServer.url));
    assert.equal(response.status, 200, wellKnown);
    const metadata = await response.json();
    assert.equal(metadata.resource, RESOURCE);
    assert.deepEqual(metadata.authorization_servers, [ISSUER]);
    assert.deepEqual(metadata.scopes_supported, ALL_SCOPES);
  }
});

test("oauth: a request without a token is challenged with the metadata URL and scopes", async () => {
  const response = await post(oauthServer.url, INITIALIZE);
  assert.equal(response.status, 401, response.text);
  assert.equal(response.headers.get("www-authenticate"), `Bearer resource_metadata="${METADATA_URL}", scope="${ALL_SCOPES.join(" ")}"`);
  assert.equal(await refusedConnect(oauthServer.url, {}), 401);
});

test("oauth: a valid token can search and execute, within its scopes", async () => {
  api.requests.length = 0;
  const jwt = mintJwt({ scope: "search execute:read" });
  const user = await client(oauthServer, bearer(jwt));
  const search = await tool(user, "search", { code: SEARCH_USER });
  assert.equal(search.isError, false, search.text);
  assert.equal(search.json, true);
  const execute = await tool(user, "execute", { code: WHO_AM_I });
  assert.equal(execute.isError, false, execute.text);
  assert.equal(execute.json, "server");
  const write = await tool(user, "execute", { code: `async () => cloudflare.request({ method: "POST", path: "/zones", body: { name: "x.example" } })` });
  assert.equal(write.isError, true);
  assert.match(write.text, /execute:write/);
  assert.deepEqual(api.requests.map((r) => `${r.method} ${r.headers.authorization}`), [`GET Bearer ${SERVER_TOKEN}`]);
});

test("oauth: expired, foreign-audience, foreign-issuer and badly signed tokens are refused", async () => {
  const hour = 3600;
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ["token has expired", mintJwt({ exp: now - hour, nbf: now - 2 * hour, iat: now - 2 * hour })],
    ["token audience does not include this resource", mintJwt({ aud: "https://other.codemode.test/mcp" })],
    ["token issuer is not trusted", mintJwt({ iss: "https://evil.codemode.test" })],
    ["token signature is invalid", mintJwt({}, { key: strangerKey.privateKey })],
  ];
  for (const [reason, jwt] of cases) {
    const response = await post(oauthServer.url, INITIALIZE, bearer(jwt));
    assert.equal(response.status, 401, `${reason}: ${response.text}`);
    assert.equal(
      response.headers.get("www-authenticate"),
      `Bearer error="invalid_token", error_description="${reason}", resource_metadata="${METADATA_URL}", scope="${ALL_SCOPES.join(" ")}"`,
    );
  }
  assert.equal(await refusedConnect(oauthServer.url, bearer(cases[0][1])), 401);
});

test("oauth: a token without the tool's scope is refused with 403 insufficient_scope", async () => {
  const send = await rawSession(oauthServer.url, bearer(mintJwt({ scope: "search" })));
  const response = await send("execute", { code: "async () => 1" });
  assert.equal(response.status, 403, response.text);
  assert.equal(response.headers.get("www-authenticate"), `Bearer error="insufficient_scope", scope="execute:read", resource_metadata="${METADATA_URL}"`);
});

test("oauth: only a token with the forward scope may forward, and its upstream token is used", async () => {
  api.requests.length = 0;
  const trusted = mintJwt({ sub: "backend", scope: `search execute:read ${FORWARD_SCOPE}` });
  const backend = await client(oauthServer, { ...bearer(trusted), ...forwarding(USER_TOKEN) });
  const result = await tool(backend, "execute", { code: WHO_AM_I });
  assert.equal(result.isError, false, result.text);
  assert.equal(result.json, "user");
  assert.equal(api.requests.at(-1).headers.authorization, `Bearer ${USER_TOKEN}`);

  const untrusted = mintJwt({ scope: "search execute:read" });
  const response = await post(oauthServer.url, INITIALIZE, { ...bearer(untrusted), ...forwarding(USER_TOKEN) });
  assert.equal(response.status, 403, response.text);
  assert.equal(api.requests.length, 1);
});

test("oauth: /readyz is ready while the issuer's keys can be had, and names the JWKS when they cannot", async () => {
  const ready = await fetch(new URL("/readyz", oauthServer.url));
  assert.equal(ready.status, 200, await ready.clone().text());
  assert.deepEqual(await ready.json(), { status: "ready" });

  // The same settings, but the JWKS endpoint first refuses connections, then answers 500.
  const broken = await listen(() => ({ status: 500, json: { error: "down" } }));
  const brokenUrl = `${broken.origin}/jwks`;
  await broken.close();
  const dataDirs = [];
  const config = (jwksUrl) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "codemode-auth-readyz-"));
    dataDirs.push(dataDir);
    return writeConfig(`data_dir = ${JSON.stringify(dataDir)}
[auth]
mode = "oauth"
issuer = "${ISSUER}"
jwks_url = "${jwksUrl}"
resource = "${RESOURCE}"
`);
  };
  const unreachable = await startServer({ apiBase: api.base, token: SERVER_TOKEN, args: ["--config", config(brokenUrl)] });
  const failing = await listen(() => ({ status: 500, json: { error: "down" } }));
  const erroring = await startServer({ apiBase: api.base, token: SERVER_TOKEN, args: ["--config", config(`${failing.origin}/jwks`)] });
  try {
    for (const [server, url] of [[unreachable, brokenUrl], [erroring, `${failing.origin}/jwks`]]) {
      const response = await fetch(new URL("/readyz", server.url));
      const body = await response.json();
      assert.equal(response.status, 503, JSON.stringify(body));
      assert.equal(body.status, "not ready");
      assert.deepEqual(Object.keys(body.reasons), ["jwks"], "only the keys are missing: the spec and audit are fine");
      assert.ok(body.reasons.jwks.length > 0, JSON.stringify(body));
      // The failure is logged when the key fetch gives up, which may come after /readyz answers.
      await waitFor(() => server.output(), new RegExp(url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    }
  } finally {
    await unreachable.stop();
    await erroring.stop();
    await failing.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
});

test("no key, token or JWT reaches the API, a tool result, the server's output or the audit log", async () => {
  assert.ok(api.requests.length > 0 && minted.length > 0, "the tests above made upstream calls with tokens");
  const upstream = JSON.stringify(api.requests);
  for (const jwt of minted) assert.ok(!upstream.includes(jwt), "a client's JWT was sent upstream");
  for (const { key } of Object.values(KEYS)) assert.ok(!upstream.includes(key), "a client's API key was sent upstream");

  await keysServer.stop();
  await oauthServer.stop();
  const audits = [keysDataDir, oauthDataDir].map((dir) =>
    ["audit.db", "audit.db-wal"].map((name) => path.join(dir, name)).filter(existsSync).map((file) => readFileSync(file).toString("latin1")).join("\n"));
  assert.ok(audits[0].includes("alice") && audits[1].includes("oauth-user"), "the audit logs record the callers");

  const secrets = [
    ["the server-wide token", SERVER_TOKEN], ["the forwarded token", USER_TOKEN], ["the unknown key", UNKNOWN_KEY],
    ...Object.entries(KEYS).map(([subject, { key }]) => [`${subject}'s key`, key]),
    ...minted.map((jwt, i) => [`JWT #${i}`, jwt]),
  ];
  const places = { "a tool result": results.join("\n"), "the keys server's output": keysServer.output(), "the oauth server's output": oauthServer.output(), "the keys audit log": audits[0], "the oauth audit log": audits[1] };
  for (const [place, text] of Object.entries(places)) {
    for (const [name, value] of secrets) assert.ok(!text.includes(value), `${name} leaked into ${place}`);
  }
});

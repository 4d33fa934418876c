// `execute` over Streamable HTTP with the official TypeScript SDK, against a fake Cloudflare API.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startServer, connectHttp, call, writeConfig } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, failure, TEST_TOKEN, ACCOUNT } from "./lib/fake-cloudflare.mjs";

let server, client, api;
const outputs = [];
let rateLimited = 0;

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "GET /zones/:zone_id": (_req, _body, _url, { zone_id }) =>
        zone_id === "missing" ? { status: 404, json: failure(1001, "Invalid zone identifier") } : { status: 200, json: envelope({ id: zone_id }) },
      "GET /zones/:zone_id/dns_records": (_req, _body, url) => ({ status: 200, json: envelope([], { echo: url.search }) }),
      "POST /zones": (req, body) => ({ status: 200, json: envelope({ contentType: req.headers["content-type"], body }) }),
      "GET /accounts/:account_id/workers/scripts": () => {
        rateLimited += 1;
        return rateLimited <= 2 ? { status: 429, headers: { "retry-after": "0" }, json: failure(971, "Please wait and consider throttling your request speed") } : { status: 200, json: envelope([{ id: "worker-a" }]) };
      },
      "GET /user/tokens/verify": () => ({ status: 200, text: "plain text, not JSON" }),
      "GET /zones/:zone_id/settings": () => ({ status: 200, json: envelope({}), delayMs: 150 }),
      "GET /zones/:zone_id/analytics/dashboard": () => ({ status: 200, hang: true }),
      "GET /user": (req) => ({ status: 200, json: envelope({ sawAuthorization: !!req.headers.authorization }) }),
    },
  });
  const config = writeConfig(`
[sandbox]
execute_timeout_secs = 3
[upstream]
max_subrequests = 10
max_concurrent_subrequests = 3
`);
  server = await startServer({ apiBase: api.base, args: ["--config", config] });
  client = await connectHttp(server.url);
});

beforeEach(() => api.resetCounters());

after(async () => {
  await client?.close();
  await server?.stop();
  await api?.close();
  const everything = [server.output(), ...outputs].join("\n");
  assert.ok(!everything.includes(TEST_TOKEN), "the token must never appear in any result or in the server's output");
});

async function exec(code, extra = {}) {
  const result = await call(client, "execute", { code, ...extra });
  outputs.push(JSON.stringify(result.raw));
  return result;
}

test("a request goes out with the credential attached in Rust, never visible to the code", async () => {
  const { json, isError, text } = await exec(`async () => {
    const r = await cloudflare.request({ method: "GET", path: "/user" });
    return { r, globals: Object.getOwnPropertyNames(globalThis).filter(n => !/^[A-Z]/.test(n)).sort(), src: String(cloudflare.request) };
  }`);
  assert.equal(isError, false, text);
  assert.equal(json.r.success, true);
  assert.equal(json.r.status, 200);
  assert.equal(json.r.result.sawAuthorization, true);
  assert.equal(api.requests[0].headers.authorization, `Bearer ${TEST_TOKEN}`);
  assert.ok(!JSON.stringify(json).includes(TEST_TOKEN));
  for (const name of json.globals) assert.ok(!/token|secret|__/i.test(name), `unexpected global ${name}`);
});

test("query values are encoded: arrays repeat, undefined is skipped", async () => {
  const { json, isError, text } = await exec(`async () => (await cloudflare.request({
    method: "GET", path: "/zones/z1/dns_records", query: { type: ["A", "AAAA"], name: "a b&c", page: 2, skip: undefined } })).echo`);
  assert.equal(isError, false, text);
  const params = new URLSearchParams(json);
  assert.deepEqual(params.getAll("type"), ["A", "AAAA"]);
  assert.equal(params.get("name"), "a b&c");
  assert.equal(params.get("page"), "2");
  assert.equal(params.has("skip"), false);
});

test("bodies are JSON by default and raw with contentType + rawBody", async () => {
  const { json, isError, text } = await exec(`async () => {
    const a = await cloudflare.request({ method: "POST", path: "/zones", body: { type: "A", name: "x" } });
    const b = await cloudflare.request({ method: "POST", path: "/zones", body: "--b\\r\\nraw\\r\\n--b--", contentType: "multipart/form-data; boundary=b", rawBody: true });
    return [a.result, b.result];
  }`);
  assert.equal(isError, false, text);
  assert.match(json[0].contentType, /application\/json/);
  assert.deepEqual(JSON.parse(json[0].body), { type: "A", name: "x" });
  assert.equal(json[1].contentType, "multipart/form-data; boundary=b");
  assert.equal(json[1].body, "--b\r\nraw\r\n--b--");
});

test("success: false rejects with the API's codes and messages, catchable by the script", async () => {
  const caught = await exec(`async () => {
    try { await cloudflare.request({ method: "GET", path: "/zones/missing" }); return "no error"; }
    catch (e) { return e.message; }
  }`);
  assert.match(caught.json, /1001/);
  assert.match(caught.json, /Invalid zone identifier/);
  const uncaught = await exec(`async () => cloudflare.request({ method: "GET", path: "/zones/missing" })`);
  assert.equal(uncaught.isError, true);
  assert.match(uncaught.text, /1001.*Invalid zone identifier/s);
});

test("a non-JSON response resolves to its text", async () => {
  const { json, isError, text } = await exec(`async () => cloudflare.request({ method: "GET", path: "/user/tokens/verify" })`);
  assert.equal(isError, false, text);
  assert.equal(json.result, "plain text, not JSON");
  assert.equal(json.status, 200);
});

test("429 is retried, honouring Retry-After", async () => {
  rateLimited = 0;
  const { json, isError, text } = await exec(`async () => (await cloudflare.request({ method: "GET", path: "/accounts/${ACCOUNT.id}/workers/scripts" })).result`);
  assert.equal(isError, false, text);
  assert.deepEqual(json, [{ id: "worker-a" }]);
  assert.equal(api.requests.filter((r) => r.path.endsWith("/workers/scripts")).length, 3);
});

test("every unsafe path form is refused before anything is sent", async () => {
  const bad = [
    "https://evil.example/x", "http:/zones", "//evil.example/zones", "/zones/../user", "/zones/%2e%2e/user",
    "/zones/%2E%2E%2Fuser", "/zones/%252e%252e/user", "/zones/a\\b", "/zones\r\nX-Evil: 1", "/zones/a%0d%0ab",
    "zones", "/zones?x=1", "/zones#frag", "@evil.example/zones", "/zones/ x", "/zones/z1/purge%5Fcache", "/zones/..;x/user",
  ];
  const { json, isError, text } = await exec(`async () => {
    const out = [];
    for (const path of ${JSON.stringify(bad)}) {
      try { await cloudflare.request({ method: "GET", path }); out.push("SENT " + path); }
      catch (e) { out.push("refused"); }
    }
    try { await cloudflare.request({ method: "TRACE", path: "/zones" }); out.push("SENT TRACE"); } catch (e) { out.push("refused"); }
    try { await cloudflare.request({ method: "POST", path: "/zones", body: "x", contentType: "text/plain\\r\\nX-Evil: 1", rawBody: true }); out.push("SENT ct"); } catch (e) { out.push("refused"); }
    try { await cloudflare.request({ method: "GET", path: "/not/in/the/spec" }); out.push("SENT unlisted"); } catch (e) { out.push(e.message); }
    return out;
  }`);
  assert.equal(isError, false, text);
  assert.deepEqual(json.slice(0, bad.length + 2), Array(bad.length + 2).fill("refused"));
  assert.match(json.at(-1), /spec|operation/i);
  assert.equal(api.requests.length, 0, `nothing may reach the API: ${JSON.stringify(api.requests.map((r) => r.path))}`);
});

test("console output is captured and returned after the result", async () => {
  const { raw, json, isError, text } = await exec(`async () => { console.log("hello", {a: 1}); console.warn("careful"); console.error("bad"); return 42; }`);
  assert.equal(isError, false, text);
  assert.equal(json, 42);
  const rest = raw.content.slice(1).map((c) => c.text).join("\n");
  assert.match(rest, /hello \{"a":1\}|hello \{ a: 1 \}/);
  assert.match(rest, /careful/);
  assert.match(rest, /bad/);
  assert.equal(raw.content.length, 2, "the value, then the console output, each once");
  assert.equal(raw.structuredContent, undefined, "the result is sent once, as text");
});

test("accountId is discovered when the token sees exactly one account, by a request of the call's own", async () => {
  api.resetCounters();
  const first = await exec(`async () => accountId`);
  assert.equal(first.json, ACCOUNT.id, first.text);
  const second = await exec(`async () => accountId`);
  assert.equal(second.json, ACCOUNT.id);
  assert.equal(api.requests.filter((r) => r.path === "/accounts").length, 2, "each call discovers within its own governance");
  const explicit = await exec(`async () => accountId`, { account_id: "feedface" });
  assert.equal(explicit.json, "feedface");
});

test("subrequests per call are bounded, and so is their concurrency", async () => {
  const many = await exec(`async () => { for (let i = 0; i < 11; i++) await cloudflare.request({ method: "GET", path: "/zones/z" + i }); }`);
  assert.equal(many.isError, true);
  assert.match(many.text, /subrequest|10/i);
  api.resetCounters();
  const parallel = await exec(`async () => (await Promise.all(Array.from({length: 9}, (_, i) => cloudflare.request({ method: "GET", path: "/zones/z" + i + "/settings" })))).length`);
  assert.equal(parallel.json, 9, parallel.text);
  assert.ok(api.maxInFlight() <= 3, `at most 3 in flight, saw ${api.maxInFlight()}`);
  assert.ok(api.maxInFlight() >= 2, "requests do run concurrently");
});

test("an upstream that hangs ends the call with a timeout; the server keeps serving", async () => {
  const hung = await exec(`async () => cloudflare.request({ method: "GET", path: "/zones/z1/analytics/dashboard" })`);
  assert.equal(hung.isError, true);
  assert.match(hung.text, /time/i);
  const ok = await exec(`async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length`);
  assert.equal(ok.json, 2);
});

test("the execute sandbox is fresh for every call", async () => {
  await exec(`async () => { globalThis.kept = 1; Object.prototype.polluted = 1; cloudflare.request = () => "hijacked"; }`);
  const { json } = await exec(`async () => [typeof kept, typeof ({}).polluted, typeof (await cloudflare.request({ method: "GET", path: "/zones" }))]`);
  assert.deepEqual(json, ["undefined", "undefined", "object"]);
});

// Discovery through the official TypeScript SDK on the shared Cloudflare spec: spec.find and
// spec.op in `search`, and errors that point to the fix for each kind of bad input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, connectHttp, call, writeConfig } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";

let api, warnServer, refuseServer, warn, refuse;

const createRecord = (body) => `async () => (await cloudflare.request({
  method: "POST", path: "/zones/z1/dns_records", body: ${JSON.stringify(body)} })).result.id`;

before(async () => {
  api = await startFakeCloudflare({
    routes: { "POST /zones/:zone/dns_records": () => ({ status: 200, json: envelope({ id: "rec1" }) }) },
  });
  warnServer = await startServer({ apiBase: api.base });
  refuseServer = await startServer({
    apiBase: api.base,
    args: ["--config", writeConfig(`[upstream]\ncheck_requests = "refuse"\n`)],
  });
  warn = await connectHttp(warnServer.url);
  refuse = await connectHttp(refuseServer.url);
});

after(async () => {
  await warn?.close();
  await refuse?.close();
  await warnServer?.stop();
  await refuseServer?.stop();
  await api?.close();
  for (const server of [warnServer, refuseServer]) {
    assert.ok(!server.output().includes(TEST_TOKEN), "the token must never appear in the server's output");
  }
});

test("the search description opens with spec.find and spec.op and states the live limits", async () => {
  const { tools } = await refuse.listTools();
  const search = tools.find((t) => t.name === "search");
  const execute = tools.find((t) => t.name === "execute");
  assert.ok(search.description.indexOf("spec.find") < search.description.indexOf("spec.paths"), search.description);
  assert.match(search.description, /Limits: code 64 KiB, 10 s, results cut past 24000 characters/);
  assert.match(search.description, /\+96 more; all: \[\.\.\.new Set/);
  assert.match(execute.description, /Limits: 50 requests per call, 30 s, /);
});

test("spec.find ranks operations for a task, and its product listing covers every product", async () => {
  const { json, isError, text } = await call(warn, "search", {
    code: `async () => ({
      top: spec.find("create a DNS record", { limit: 3 }),
      zones: spec.find("list my zones", { limit: 3 }).map(o => o.method + " " + o.path),
      deletes: spec.find("dns records", { method: "DELETE" }).every(o => o.method === "DELETE"),
      products: new Set(Object.values(spec.paths).flatMap(Object.values).map(o => o.tags[0])).size,
    })`,
  });
  assert.equal(isError, false, text);
  assert.deepEqual(json.top[0], {
    api: "cloudflare", method: "POST", path: "/zones/{zone_id}/dns_records",
    summary: "Create DNS Record", product: "dns_records",
  });
  assert.equal(json.top.length, 3);
  assert.ok(json.zones.includes("GET /zones"), `"list my zones" ranks GET /zones in the top 3: ${json.zones}`);
  assert.equal(json.deletes, true);
  assert.equal(json.products, 104);
});

test("spec.op shows a DNS record create in under 2,000 characters, by concrete path too", async () => {
  const { json, isError, text } = await call(warn, "search", {
    code: `async () => spec.op("POST", "/zones/abc123/dns_records")`,
  });
  assert.equal(isError, false, text);
  assert.ok(text.length < 2000, `${text.length} characters: ${text}`);
  assert.equal(json.path, "/zones/{zone_id}/dns_records");
  assert.match(json.body, /name: string;/);
  assert.doesNotMatch(json.body, /created_on|modified_on|proxiable/);
  assert.deepEqual(json.parameters.map((p) => [p.name, p.in, p.required]), [["zone_id", "path", true]]);
});

test("spec.op and spec.find explain bad arguments", async () => {
  const unknown = await call(warn, "search", { code: `async () => spec.op("POST", "/zones/abc/dns_record")` });
  assert.equal(unknown.isError, true);
  assert.match(unknown.text, /POST \/zones\/abc\/dns_record is not an operation of this API; the nearest operations are: POST \/zones\/\{zone_id\}\/dns_records/);
  const option = await call(warn, "search", { code: `async () => spec.find("zones", { limt: 2 })` });
  assert.equal(option.isError, true);
  assert.match(option.text, /spec\.find has no option "limt"; its options are limit, method, product, api/);
});

test("a method and path outside the spec name the nearest operations, and nothing is sent", async () => {
  api.resetCounters();
  const { isError, text } = await call(warn, "execute", {
    code: `async () => (await cloudflare.request({ method: "GET", path: "/zones/z1/dns_record" })).result`,
  });
  assert.equal(isError, true);
  assert.match(text, /GET \/zones\/z1\/dns_record is not an operation of the API spec; the nearest operations are GET \/zones\/\{zone_id\}\/dns_records/);
  assert.equal(api.requests.length, 0);
});

test("code that returns undefined gets a note about a forgotten return or await", async () => {
  const { all, isError } = await call(warn, "execute", {
    code: `async () => { const zones = cloudflare.request({ method: "GET", path: "/zones" }); zones.result; }`,
  });
  assert.equal(isError, false, all);
  assert.match(all, /Note: the code returned undefined \(shown as null\): is a `return` missing, or an `await`/);
  const searched = await call(warn, "search", { code: `async () => { spec.find("zones"); }` });
  assert.match(searched.all, /Note: the code returned undefined/);
});

test("a runtime error names the line and column of the agent's code and shows the line", async () => {
  const { text, isError } = await call(warn, "search", {
    code: `async () => {\n  const op = spec.paths["/nope"];\n  return op.get.summary;\n}`,
  });
  assert.equal(isError, true);
  assert.match(text, /TypeError/);
  assert.match(text, /at line 3, column \d+ of the code:\n3 \|   return op\.get\.summary;\n  \| +\^/);
});

test("an unknown approval_id says so instead of being ignored", async () => {
  api.resetCounters();
  const { text, isError } = await call(warn, "execute", {
    code: `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length`,
    approval_id: "0123456789abcdef0123456789abcdef",
  });
  assert.equal(isError, true);
  assert.match(text, /approval_id "0123456789abcdef0123456789abcdef" cannot be used: no approval has this id; call execute without approval_id/);
  assert.equal(api.requests.length, 0, "the code did not run");
});

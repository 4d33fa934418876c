// The MCP Inspector's command-line client (`inspector --cli`): tools/list and tools/call of
// `search` and `execute`, over Streamable HTTP against `codemode serve` and over stdio against
// `codemode stdio`, both calling a fake Cloudflare API with the test token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN, ACCOUNT } from "./lib/fake-cloudflare.mjs";
import { runCli } from "./lib/cli.mjs";
import { BINARY, CLIENT_NODE, CLOUDFLARE_SPEC, INSPECTOR } from "./lib/paths.mjs";

let api, server;
const outputs = [];
// The Inspector keeps a catalog and client config under HOME: a fresh one keeps the user's untouched.
const home = mkdtempSync(path.join(tmpdir(), "codemode-inspector-"));

const SEARCH = `async () => Object.entries(spec.paths)
  .filter(([p]) => p === "/zones" || p === "/zones/{zone_id}/dns_records")
  .map(([p, ops]) => [p, Object.keys(ops).sort()])`;
const EXECUTE = `async () => {
  const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result;
  console.log("zones:", zones.length);
  const first = await cloudflare.request({ method: "GET", path: "/zones/" + zones[0].id });
  return { names: zones.map((z) => z.name), first: first.result, account: accountId };
}`;

before(async () => {
  api = await startFakeCloudflare({
    routes: { "GET /zones/:zone_id": (_req, _body, _url, { zone_id }) => ({ status: 200, json: envelope({ id: zone_id, status: "active" }) }) },
  });
  server = await startServer({ apiBase: api.base });
});

after(async () => {
  await server?.stop();
  await api?.close();
  rmSync(home, { recursive: true, force: true });
  const everything = [server.output(), ...outputs].join("\n");
  assert.ok(!everything.includes(TEST_TOKEN), "the token must never appear in the Inspector's output or the server's");
});

/** Runs `inspector --cli <args> <target>` (a URL, or `-e K=V -- command...`) with JSON output; resolves to {code, json, stdout, stderr}. */
async function inspect(target, args) {
  const result = await runCli(CLIENT_NODE, [INSPECTOR, "--cli", ...args, "--format", "json", ...target], {
    env: { PATH: process.env.PATH, HOME: home },
  });
  outputs.push(result.stdout, result.stderr);
  let json;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { ...result, json };
}

/** The value a tool's code returned, from a successful tools/call result. */
function returned(run) {
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.json.result.isError, false, run.stdout);
  return JSON.parse(run.json.result.content[0].text);
}

test("tools/list over HTTP shows search and execute with their input schemas", async () => {
  const run = await inspect([server.url], ["--method", "tools/list"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const tools = Object.fromEntries(run.json.result.tools.map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(tools).sort(), ["execute", "search"]);
  assert.deepEqual(tools.search.inputSchema.required, ["code"]);
  assert.deepEqual(tools.execute.inputSchema.required, ["code"]);
  assert.ok(tools.execute.inputSchema.properties.account_id, JSON.stringify(tools.execute.inputSchema));
});

test("tools/call search over HTTP reads the Cloudflare spec", async () => {
  const run = await inspect([server.url], ["--method", "tools/call", "--tool-name", "search", "--tool-args-json", JSON.stringify({ code: SEARCH })]);
  assert.deepEqual(returned(run), [["/zones", ["get", "post"]], ["/zones/{zone_id}/dns_records", ["get", "post"]]]);
});

for (const era of ["legacy", "modern"]) {
  test(`tools/call execute over HTTP (${era} protocol era) calls the API with the token attached`, async () => {
    api.resetCounters();
    const run = await inspect([server.url], ["--protocol-era", era, "--method", "tools/call", "--tool-name", "execute", "--tool-args-json", JSON.stringify({ code: EXECUTE })]);
    const value = returned(run);
    assert.deepEqual(value.names, ["example.com", "example.org"]);
    assert.deepEqual(value.first, { id: "zone1", status: "active" });
    assert.equal(value.account, ACCOUNT.id);
    assert.equal(run.json.result.content[1].text, "Console output:\nzones: 2");
    assert.ok(api.requests.length > 0);
    for (const request of api.requests) assert.equal(request.headers.authorization, `Bearer ${TEST_TOKEN}`);
  });
}

test("a failing execute comes back as isError and a non-zero exit", async () => {
  const run = await inspect([server.url], ["--method", "tools/call", "--tool-name", "execute", "--tool-args-json", JSON.stringify({ code: `async () => { throw new Error("boom") }` })]);
  assert.notEqual(run.code, 0);
  assert.equal(run.json.result.isError, true, run.stdout);
  assert.match(run.json.result.content[0].text, /boom/);
});

test("over stdio: tools/list, search and execute against `codemode stdio`, the token passed with -e", async () => {
  api.resetCounters();
  const stdio = ["-e", `CLOUDFLARE_API_TOKEN=${TEST_TOKEN}`, "--", BINARY, "stdio", "--spec", CLOUDFLARE_SPEC, "--api-base", api.base];
  const listed = await inspect(stdio, ["--method", "tools/list"]);
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  assert.deepEqual(listed.json.result.tools.map((t) => t.name).sort(), ["execute", "search"]);
  const found = await inspect(stdio, ["--method", "tools/call", "--tool-name", "search", "--tool-args-json", JSON.stringify({ code: SEARCH })]);
  assert.deepEqual(returned(found)[0], ["/zones", ["get", "post"]]);
  const made = await inspect(stdio, ["--method", "tools/call", "--tool-name", "execute", "--tool-args-json", JSON.stringify({ code: EXECUTE })]);
  assert.deepEqual(returned(made).names, ["example.com", "example.org"]);
  assert.ok(api.requests.length > 0);
  for (const request of api.requests) assert.equal(request.headers.authorization, `Bearer ${TEST_TOKEN}`);
});

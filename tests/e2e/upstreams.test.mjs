// Several upstreams in one server, through the official TypeScript SDK: GitHub's real spec
// beside the shared Cloudflare spec, each with a fake API on loopback that records every
// header; tokens never cross; the bad-input paths; and `[upstream] check_requests`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { startServer, connectHttp, call, writeConfig, scratchDir, waitFor } from "./lib/codemode.mjs";
import { startFakeCloudflare, TEST_TOKEN, ACCOUNT } from "./lib/fake-cloudflare.mjs";
import { audit, exportedEntries } from "./lib/audit.mjs";
import { runCli } from "./lib/cli.mjs";
import { BINARY, CLOUDFLARE_SPEC, ROOT } from "./lib/paths.mjs";

const GITHUB_SPEC = path.join(ROOT, "tests", "node_modules", "@octokit", "openapi", "generated", "api.github.com.json");
const GITHUB_TOKEN = "gh-test-token-5ecr3t-never-to-cloudflare-93af";
const FORWARDED_TOKEN = "gh-forwarded-user-token-5ecr3t-41c2";
const STORED_TOKEN = "gh-stored-user-token-5ecr3t-8b07";
const GITHUB_TOKENS = [GITHUB_TOKEN, FORWARDED_TOKEN, STORED_TOKEN];
const outputs = [];
let cloudflare, github, server, client;

/** A fake GitHub API: answers `GET /user` and 404s the rest, recording every request. */
async function startFakeGitHub() {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    const reply = (status, json) => {
      res.writeHead(status, { "content-type": "application/json", "x-ratelimit-remaining": "4999" });
      res.end(JSON.stringify(json));
    };
    if (!GITHUB_TOKENS.some((token) => req.headers.authorization === `token ${token}`)) return reply(401, { message: "Bad credentials" });
    if (req.method === "GET" && req.url === "/user") return reply(200, { login: "octocat", id: 1 });
    reply(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

const upstreamsConfig = (extra = "") => `
[[upstreams]]
name = "cloudflare"
spec = ${JSON.stringify(CLOUDFLARE_SPEC)}
api_base = ${JSON.stringify(cloudflare.base)}

[[upstreams]]
name = "github"
spec = ${JSON.stringify(GITHUB_SPEC)}
api_base = ${JSON.stringify(github.base)}
token_env = "GITHUB_TOKEN"
forward_header = "X-GitHub-Authorization"
auth_scheme = "token"
headers = { Accept = "application/vnd.github+json", X-GitHub-Api-Version = "2022-11-28" }
${extra}`;

before(async () => {
  assert.ok(existsSync(GITHUB_SPEC), `GitHub's spec is missing at ${GITHUB_SPEC}; run \`cd tests && npm ci\``);
  cloudflare = await startFakeCloudflare();
  github = await startFakeGitHub();
  server = await startServer({ spec: null, args: ["--config", writeConfig(upstreamsConfig())], env: { GITHUB_TOKEN } });
  client = await connectHttp(server.url);
});

after(async () => {
  await client?.close();
  await server?.stop();
  const everything = [server?.output() ?? "", ...outputs].join("\n");
  for (const secret of [TEST_TOKEN, ...GITHUB_TOKENS]) {
    assert.ok(!everything.includes(secret), "no token may appear in any result or in the server's output");
  }
  await cloudflare?.close();
  await github?.close();
});

async function tool(name, code) {
  const result = await call(client, name, { code });
  outputs.push(JSON.stringify(result.raw));
  return result;
}

test("tools/list declares both upstreams", async () => {
  const { tools } = await client.listTools();
  outputs.push(JSON.stringify(tools));
  const execute = tools.find((t) => t.name === "execute").description;
  const search = tools.find((t) => t.name === "search").description;
  assert.match(execute, /cloudflare: \{/);
  assert.match(execute, /declare const github: Api/);
  assert.match(execute, /ok: boolean; status: number; headers: Record<string, string>; data: any/);
  assert.match(search, /specs\.github/);
});

test("github.request and cloudflare.request in one script, each with its own token only", async () => {
  cloudflare.resetCounters();
  github.requests.length = 0;
  const { json, isError, text } = await tool("execute", `async () => {
    const zones = await cloudflare.request({ method: "GET", path: "/zones" });
    const user = await github.request({ method: "GET", path: "/user" });
    let missing;
    try { await github.request({ method: "GET", path: "/repos/octocat/nothing" }); }
    catch (e) { missing = { message: e.message, status: e.status, data: e.data }; }
    return { zones: zones.result.map((z) => z.name), success: zones.success, user, missing };
  }`);
  assert.equal(isError, false, text);
  assert.deepEqual(json.zones, ["example.com", "example.org"]);
  assert.equal(json.success, true);
  assert.equal(json.user.ok, true);
  assert.equal(json.user.status, 200);
  assert.equal(json.user.data.login, "octocat");
  assert.equal(json.user.headers["x-ratelimit-remaining"], "4999");
  assert.equal(json.missing.status, 404);
  assert.match(json.missing.message, /^github API error \(HTTP 404\): Not Found/);
  assert.equal(json.missing.data.message, "Not Found");

  assert.equal(cloudflare.requests.length, 1);
  assert.equal(github.requests.length, 2);
  for (const { headers } of cloudflare.requests) {
    assert.equal(headers.authorization, `Bearer ${TEST_TOKEN}`);
    assert.ok(!JSON.stringify(headers).includes(GITHUB_TOKEN), "the GitHub token never reaches Cloudflare");
    assert.equal(headers["x-github-api-version"], undefined, "GitHub's headers stay with GitHub");
  }
  for (const { headers } of github.requests) {
    assert.equal(headers.authorization, `token ${GITHUB_TOKEN}`);
    assert.equal(headers.accept, "application/vnd.github+json");
    assert.equal(headers["x-github-api-version"], "2022-11-28");
    assert.ok(!JSON.stringify(headers).includes(TEST_TOKEN), "the Cloudflare token never reaches GitHub");
  }
});

test("search reads every spec as specs[name], and spec.find ranks across them", async () => {
  const { json, isError, text } = await tool("search", `async () => ({
    names: Object.keys(specs),
    same: spec === specs.cloudflare,
    githubPaths: Object.keys(specs.github.paths).length,
    found: spec.find("get the authenticated user", { api: "github", limit: 3 }).map((f) => f.api + " " + f.method + " " + f.path),
    op: specs.github.op("GET", "/user").api,
  })`);
  assert.equal(isError, false, text);
  assert.deepEqual(json.names, ["cloudflare", "github"]);
  assert.equal(json.same, true);
  assert.ok(json.githubPaths > 500, `GitHub's spec has its paths (${json.githubPaths})`);
  assert.ok(json.found.includes("github GET /user"), JSON.stringify(json.found));
  assert.equal(json.op, "github");
});

test("an unknown upstream name is refused with the names there are", async () => {
  const found = await tool("search", `async () => spec.find("list zones", { api: "gitlab" })`);
  assert.equal(found.isError, true);
  assert.match(found.all, /no API named "gitlab" here; the APIs are: cloudflare, github/);
  const called = await tool("execute", `async () => gitlab.request({ method: "GET", path: "/user" })`);
  assert.equal(called.isError, true);
  assert.match(called.all, /gitlab is not defined/);
});

/** Runs `codemode serve` with `toml` and resolves to what it printed when it exited. */
async function refusedStart(toml) {
  const { code, stdout, stderr } = await runCli(BINARY, ["serve", "--listen", "127.0.0.1:0", "--config", writeConfig(toml)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_DATA_HOME: scratchDir() },
  });
  assert.notEqual(code, 0, "the server must refuse to start");
  return stdout + stderr;
}

test("an upstream whose spec names no server, and no api_base, refuses to start saying how to set one", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "codemode-spec-"));
  const spec = path.join(dir, "serverless.json");
  writeFileSync(spec, JSON.stringify({ openapi: "3.0.3", info: { title: "No servers", version: "1" }, paths: { "/things": { get: { responses: { 200: { description: "ok" } } } } } }));
  const output = await refusedStart(`[[upstreams]]\nname = "things"\nspec = ${JSON.stringify(spec)}\n`);
  assert.match(output, /upstream `things` has no API base/);
  assert.match(output, /set `api_base` in its \[\[upstreams\]\] table/);
});

test("two upstreams with one name, or a name that is no identifier, refuse to start", async () => {
  const twice = await refusedStart(`
[[upstreams]]
name = "github"
spec = ${JSON.stringify(GITHUB_SPEC)}
[[upstreams]]
name = "github"
spec = ${JSON.stringify(GITHUB_SPEC)}
`);
  assert.match(twice, /name "github" is used by two upstreams/);
  const dashed = await refusedStart(`[[upstreams]]\nname = "git-hub"\nspec = ${JSON.stringify(GITHUB_SPEC)}\n`);
  assert.match(dashed, /name "git-hub" is not a plain JavaScript identifier/);
  const both = await refusedStart(`spec = ${JSON.stringify(GITHUB_SPEC)}\n[[upstreams]]\nname = "github"\nspec = ${JSON.stringify(GITHUB_SPEC)}\n`);
  assert.match(both, /\[\[upstreams\]\] gives each upstream its own; set it there/);
});

for (const mode of ["warn", "refuse"]) {
  test(`check_requests = "${mode}": a query parameter GET /zones does not have`, async () => {
    const api = await startFakeCloudflare();
    const config = writeConfig(`[upstream]\ncheck_requests = "${mode}"\n`);
    const one = await startServer({ apiBase: api.base, args: ["--config", config] });
    const mcp = await connectHttp(one.url);
    try {
      const result = await call(mcp, "execute", {
        code: `async () => (await cloudflare.request({ method: "GET", path: "/zones", query: { bogus_filter: "x" } })).result.length`,
      });
      outputs.push(JSON.stringify(result.raw), one.output());
      if (mode === "warn") {
        assert.equal(result.isError, false, result.all);
        assert.equal(result.json, 2);
        assert.equal(api.requests.length, 1, "warn sends the request");
        assert.match(result.all, /GET \/zones was sent, but does not fit GET \/zones in the spec: .*bogus_filter/);
      } else {
        assert.equal(result.isError, true);
        assert.equal(api.requests.length, 0, "refuse sends nothing");
        assert.match(result.all, /GET \/zones was not sent: it does not fit GET \/zones: .*bogus_filter/);
        assert.match(result.all, /spec\.op\("GET", "\/zones"\)/);
      }
    } finally {
      await mcp.close();
      await one.stop();
      await api.close();
    }
  });
}

/** Every header the two fakes saw, checked: Cloudflare never sees a GitHub token, GitHub only `token ${expected}`. */
function assertNoCrossing(expected) {
  for (const { headers } of cloudflare.requests) {
    assert.equal(headers.authorization, `Bearer ${TEST_TOKEN}`);
    for (const token of GITHUB_TOKENS) assert.ok(!JSON.stringify(headers).includes(token), "no GitHub token reaches Cloudflare");
  }
  assert.ok(github.requests.length > 0);
  for (const { headers } of github.requests) {
    assert.equal(headers.authorization, `token ${expected}`);
    assert.ok(!JSON.stringify(headers).includes(TEST_TOKEN), "the Cloudflare token never reaches GitHub");
  }
}

const bothCode = `async () => [(await cloudflare.request({ method: "GET", path: "/zones" })).success, (await github.request({ method: "GET", path: "/user" })).data.login]`;

test("a credential forwarded in GitHub's forward_header goes to GitHub only", async () => {
  cloudflare.resetCounters();
  github.requests.length = 0;
  const forwarding = await connectHttp(server.url, "forwarding", { headers: { "X-GitHub-Authorization": `token ${FORWARDED_TOKEN}` } });
  try {
    const result = await call(forwarding, "execute", { code: bothCode });
    outputs.push(JSON.stringify(result.raw));
    assert.equal(result.isError, false, result.all);
    assert.deepEqual(result.json, [true, "octocat"]);
  } finally {
    await forwarding.close();
  }
  assertNoCrossing(FORWARDED_TOKEN);
});

test("credentials stored with --upstream are keyed by upstream; an unknown upstream is refused", async () => {
  const keygen = spawnSync(BINARY, ["credentials", "keygen"], { encoding: "utf8" });
  assert.equal(keygen.status, 0, keygen.stderr);
  const key = keygen.stdout.trim();
  const config = writeConfig(`data_dir = ${JSON.stringify(scratchDir())}\n${upstreamsConfig()}`);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, CODEMODE_CREDENTIALS_KEY: key };
  const cli = (args, input) => spawnSync(BINARY, ["credentials", ...args, "--config", config], { input, encoding: "utf8", env });
  const unknown = cli(["set", "--upstream", "gitlab", "--subject", "local"], `${STORED_TOKEN}\n`);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /no upstream is named "gitlab"; the upstreams are: cloudflare, github/);
  const set = cli(["set", "--upstream", "github", "--subject", "local"], `${STORED_TOKEN}\n`);
  assert.equal(set.status, 0, set.stderr);
  const list = cli(["list"]);
  assert.equal(list.status, 0, list.stderr);
  assert.equal(list.stdout, "local (upstream github)\n");
  outputs.push(unknown.stdout, unknown.stderr, set.stdout, set.stderr, list.stdout, list.stderr);

  cloudflare.resetCounters();
  github.requests.length = 0;
  const stored = await startServer({ spec: null, args: ["--config", config], env: { GITHUB_TOKEN, CODEMODE_CREDENTIALS_KEY: key } });
  const mcp = await connectHttp(stored.url);
  try {
    const result = await call(mcp, "execute", { code: bothCode });
    outputs.push(JSON.stringify(result.raw));
    assert.equal(result.isError, false, result.all);
    assert.deepEqual(result.json, [true, "octocat"]);
  } finally {
    await mcp.close();
    await stored.stop();
    outputs.push(stored.output());
  }
  assertNoCrossing(STORED_TOKEN);
});

test("with github first: its example, each upstream's approvals, accountId from cloudflare, audit and metrics by upstream name", async () => {
  const dataDir = scratchDir();
  const config = writeConfig(`data_dir = ${JSON.stringify(dataDir)}
[[upstreams]]
name = "github"
spec = ${JSON.stringify(GITHUB_SPEC)}
api_base = ${JSON.stringify(github.base)}
token_env = "GITHUB_TOKEN"
auth_scheme = "token"
[[upstreams.policy.rules]]
name = "github-stars"
method = ["PUT"]
path = "/user/starred/**"
action = "approve"

[[upstreams]]
name = "cloudflare"
spec = ${JSON.stringify(CLOUDFLARE_SPEC)}
api_base = ${JSON.stringify(cloudflare.base)}
`);
  const first = await startServer({ spec: null, args: ["--config", config], env: { GITHUB_TOKEN } });
  const mcp = await connectHttp(first.url);
  try {
    const { tools } = await mcp.listTools();
    outputs.push(JSON.stringify(tools));
    const execute = tools.find((t) => t.name === "execute").description;
    assert.match(execute, /^Call the GitHub\b[^.]*API, Cloudflare API\. /, "the title names the first API first");
    assert.doesNotMatch(execute, /API API/);
    assert.match(execute, /Example: async \(\) => \(await github\.request\(\{method: "GET", path: "\/\w+"\}\)\)\.data/);
    assert.doesNotMatch(execute, /Example: async \(\) => \(await cloudflare/);
    assert.match(execute, /declare const accountId: string;\ndeclare const cloudflare: \{/, "accountId is declared beside cloudflare");
    const approvals = execute.slice(execute.indexOf("Needs a person's approval: "));
    const [githubHeld, cloudflareHeld] = approvals.split("; ");
    assert.match(githubHeld, /^Needs a person's approval: github: any DELETE, .*github-stars/);
    assert.match(cloudflareHeld, /^cloudflare: any DELETE/);
    assert.doesNotMatch(cloudflareHeld, /github-stars/, "github's rule is not cloudflare's");

    cloudflare.resetCounters();
    github.requests.length = 0;
    const result = await call(mcp, "execute", {
      code: `async () => [accountId, (await github.request({ method: "GET", path: "/user" })).data.login, (await cloudflare.request({ method: "GET", path: "/zones" })).success]`,
    });
    outputs.push(JSON.stringify(result.raw));
    assert.equal(result.isError, false, result.all);
    assert.deepEqual(result.json, [ACCOUNT.id, "octocat", true]);
    assert.deepEqual(cloudflare.requests.map((r) => r.path), ["/accounts", "/zones"], "accountId is read from cloudflare, not from the first upstream");
    assert.deepEqual(github.requests.map((r) => r.url), ["/user"]);

    const db = path.join(dataDir, "audit.db");
    const entries = exportedEntries(db);
    const intents = entries.filter((e) => e.entry === "request").map((e) => `${e.upstream} ${e.path}`);
    assert.deepEqual(intents.sort(), ["cloudflare /accounts", "cloudflare /zones", "github /user"]);
    const call_ = entries.filter((e) => e.entry === "call").at(-1);
    assert.deepEqual(call_.requests.map((r) => `${r.upstream} ${r.path}`).sort(), ["cloudflare /accounts", "cloudflare /zones", "github /user"]);
    const verified = audit(db, ["verify"]);
    assert.equal(verified.status, 0, verified.stderr + verified.stdout);

    const metrics = await (await fetch(first.url.replace(/\/mcp$/, "/metrics"))).text();
    assert.match(metrics, /^codemode_upstream_requests_total\{upstream="github",status="2xx"\} 1$/m, metrics);
    assert.match(metrics, /^codemode_upstream_requests_total\{upstream="cloudflare",status="2xx"\} 2$/m);
    assert.doesNotMatch(metrics, /upstream="127\.0\.0\.1"/, "the label is the upstream's name, not its host");
  } finally {
    await mcp.close();
    await first.stop();
    outputs.push(first.output());
  }
});

test("SIGHUP refreshes every upstream; one whose reload fails keeps its last good spec", async () => {
  const dir = scratchDir();
  const petsFile = path.join(dir, "pets.json");
  const pets = (paths) => JSON.stringify({
    openapi: "3.0.3", info: { title: "Pets", version: "1" },
    paths: Object.fromEntries(paths.map((p) => [p, { get: { responses: { 200: { description: "ok" } } } }])),
  });
  writeFileSync(petsFile, pets(["/pets"]));
  const config = writeConfig(`${upstreamsConfig()}
[[upstreams]]
name = "pets"
spec = ${JSON.stringify(petsFile)}
api_base = ${JSON.stringify(github.base)}
`);
  const refreshing = await startServer({ spec: null, args: ["--config", config], env: { GITHUB_TOKEN } });
  const mcp = await connectHttp(refreshing.url);
  const petPaths = async () => {
    const found = await call(mcp, "search", { code: "async () => [Object.keys(specs.pets.paths), Object.keys(specs.cloudflare.paths).length > 900]" });
    assert.equal(found.isError, false, found.text);
    return found.json;
  };
  try {
    assert.deepEqual(await petPaths(), [["/pets"], true]);
    writeFileSync(petsFile, pets(["/pets", "/pets/new"]));
    refreshing.child.kill("SIGHUP");
    await waitFor(refreshing.output, /spec refreshed.*pets|pets.*spec refreshed/);
    assert.deepEqual(await petPaths(), [["/pets", "/pets/new"], true], "the third upstream's new spec is in service");
    const { tools } = await mcp.listTools();
    assert.match(tools.find((t) => t.name === "search").description, /specs\.pets \(Pets, 2 ops\)/, "the descriptions follow the refreshed spec");

    writeFileSync(petsFile, "<html>not a spec</html>");
    refreshing.child.kill("SIGHUP");
    await waitFor(refreshing.output, /spec refresh failed.*pets|pets.*spec refresh failed/);
    assert.deepEqual(await petPaths(), [["/pets", "/pets/new"], true], "a failed reload keeps the last good spec");
  } finally {
    await mcp.close();
    await refreshing.stop();
    outputs.push(refreshing.output());
  }
});

// Claude Code (`claude` CLI), offline: `claude mcp add` in each form the README shows (HTTP, HTTP
// with the upstream token in a header, stdio, stdio with the token in its environment), then
// `claude mcp list` / `claude mcp get`, which health-check the server, and a `claude -p` session
// whose model is a fake Anthropic API that scripts a real `search` and a real `execute` call.
// HOME is a fresh temp dir per test, so the user's Claude Code config is never touched, and the
// environment switches off Claude Code's telemetry, error reporting and update checks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer } from "./lib/codemode.mjs";
import { startFakeCloudflare, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { startFakeAnthropic } from "./lib/fake-anthropic.mjs";
import { runCli } from "./lib/cli.mjs";
import { BINARY, CLAUDE, CLOUDFLARE_SPEC } from "./lib/paths.mjs";

let api, server;
const outputs = [];
const homes = [];

const SEARCH = { name: "mcp__codemode__search", input: { code: `async () => Object.keys(spec.paths).filter((p) => p === "/zones")` } };
const EXECUTE = {
  name: "mcp__codemode__execute",
  input: { code: `async () => { console.log("listing"); return (await cloudflare.request({ method: "GET", path: "/zones" })).result.map((z) => z.name) }` },
};

before(async () => {
  api = await startFakeCloudflare();
  server = await startServer({ apiBase: api.base });
});

after(async () => {
  await server?.stop();
  await api?.close();
  const everything = [server.output(), ...outputs, ...homes.flatMap(filesBesidesConfig)].join("\n");
  for (const home of homes) rmSync(home, { recursive: true, force: true });
  assert.ok(!everything.includes(TEST_TOKEN), "the token must never reach the model, a log or a transcript");
});

/**
 * The text of every file Claude Code wrote under `home` except its config (.claude.json and its
 * backups, which hold the token on purpose): transcripts, and MCP logs with the stdio server's stderr.
 */
function filesBesidesConfig(home) {
  return readdirSync(home, { recursive: true })
    .filter((file) => !path.basename(file).startsWith(".claude.json") && statSync(path.join(home, file)).isFile())
    .map((file) => readFileSync(path.join(home, file), "utf8"));
}

/** A Claude Code CLI bound to a fresh HOME, run from that directory (the project `mcp add` writes to). */
function claudeIn() {
  const home = mkdtempSync(path.join(tmpdir(), "codemode-claude-"));
  homes.push(home);
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
  return (args, extraEnv = {}) => runCli(CLAUDE, args, { env: { ...env, ...extraEnv }, cwd: home });
}

/** The requests the fake API received since its last reset, and whether each carried the token. */
const upstreamCalls = () =>
  api.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization === `Bearer ${TEST_TOKEN}` ? "with" : "without"} the token`);

/** `text` as a literal inside a regular expression. */
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `claude mcp list` and `claude mcp get codemode`, asserting both show it connected; returns get's output. */
async function assertConnected(claude, listLine) {
  const list = await claude(["mcp", "list"]);
  assert.equal(list.code, 0, list.stdout + list.stderr);
  assert.match(list.stdout, new RegExp(`^codemode: ${escape(listLine)} - ✔ Connected$`, "m"), list.stdout);
  const get = await claude(["mcp", "get", "codemode"]);
  assert.equal(get.code, 0, get.stdout + get.stderr);
  assert.match(get.stdout, /^ {2}Status: ✔ Connected$/m, get.stdout);
  return get.stdout;
}

/** A tool result's text as the model got it: the value (JSON, one line), then any console output. */
function toolResult(text) {
  const [value, ...rest] = text.split("\n");
  return { result: JSON.parse(value), console: rest.join("\n") };
}

/**
 * Runs `claude -p` against the fake model, which calls search then execute; returns what each
 * tool gave the model, parsed, after checking the session ended normally.
 */
async function searchAndExecute(claude) {
  const model = await startFakeAnthropic({ script: [SEARCH, EXECUTE] });
  try {
    // The fake model offers every tool up front (no tool search), and -p waits for the MCP
    // servers to connect before its first request (by default it would not wait for a slow one).
    const run = await claude(
      ["-p", "Which zones do I have?", "--output-format", "json", "--allowedTools", SEARCH.name, EXECUTE.name],
      { ANTHROPIC_BASE_URL: model.base, ANTHROPIC_API_KEY: "sk-ant-fake-key", ENABLE_TOOL_SEARCH: "false", MCP_CONNECTION_NONBLOCKING: "0", CLAUDE_CODE_MAX_RETRIES: "0" },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const session = JSON.parse(run.stdout);
    assert.equal(session.is_error, false, run.stdout);
    assert.equal(session.result, "done");
    assert.deepEqual(session.permission_denials, []);
    const results = model.toolResults();
    outputs.push(...results.values());
    assert.equal(results.size, 2, JSON.stringify([...results]));
    return { search: toolResult(results.get("toolu_0")), execute: toolResult(results.get("toolu_1")) };
  } finally {
    await model.close();
  }
}

test("HTTP: `claude mcp add --transport http codemode <url>`, connected, then search and execute", async () => {
  const claude = claudeIn();
  const added = await claude(["mcp", "add", "--transport", "http", "codemode", server.url]);
  assert.equal(added.code, 0, added.stdout + added.stderr);
  const get = await assertConnected(claude, `${server.url} (HTTP)`);
  assert.match(get, /^ {2}Type: http$/m);
  api.resetCounters();
  const seen = await searchAndExecute(claude);
  // Claude Code hands the model the text blocks: the value, then the console output.
  assert.deepEqual(seen.search, { result: ["/zones"], console: "" });
  assert.deepEqual(seen.execute, { result: ["example.com", "example.org"], console: "Console output:\nlisting" });
  assert.deepEqual(upstreamCalls(), ["GET /zones with the token"]);
});

test("HTTP with the token in a header: `--header \"X-Upstream-Authorization: Bearer ...\"` reaches the API", async () => {
  // This server has no token of its own: the only credential is the one Claude Code forwards.
  const forwarding = await startServer({ apiBase: api.base, token: null });
  try {
    const claude = claudeIn();
    const added = await claude(["mcp", "add", "--transport", "http", "codemode", forwarding.url, "--header", `X-Upstream-Authorization: Bearer ${TEST_TOKEN}`]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /"X-Upstream-Authorization": "\[REDACTED\]"/);
    await assertConnected(claude, `${forwarding.url} (HTTP)`);
    api.resetCounters();
    const seen = await searchAndExecute(claude);
    assert.deepEqual(seen.search.result, ["/zones"]);
    assert.deepEqual(seen.execute.result, ["example.com", "example.org"]);
    assert.deepEqual(upstreamCalls(), ["GET /zones with the token"]);
  } finally {
    await forwarding.stop();
    outputs.push(forwarding.output());
  }
});

test("stdio: `claude mcp add codemode -- codemode stdio --demo`, connected, then search and execute", async () => {
  const claude = claudeIn();
  const added = await claude(["mcp", "add", "codemode", "--", BINARY, "stdio", "--demo"]);
  assert.equal(added.code, 0, added.stdout + added.stderr);
  const get = await assertConnected(claude, `${BINARY} stdio --demo`);
  assert.match(get, /^ {2}Type: stdio$/m);
  const seen = await searchAndExecute(claude);
  assert.deepEqual(seen.search.result, ["/zones"]);
  assert.ok(seen.execute.result.length >= 1, JSON.stringify(seen.execute));
  assert.equal(seen.execute.console, "Console output:\nlisting");
});

test("stdio with the token: `claude mcp add codemode --env CLOUDFLARE_API_TOKEN=... -- codemode stdio`", async () => {
  const claude = claudeIn();
  const command = [BINARY, "stdio", "--spec", CLOUDFLARE_SPEC, "--api-base", api.base];
  const added = await claude(["mcp", "add", "codemode", "--env", `CLOUDFLARE_API_TOKEN=${TEST_TOKEN}`, "--", ...command]);
  assert.equal(added.code, 0, added.stderr);
  await assertConnected(claude, command.join(" "));
  api.resetCounters();
  const seen = await searchAndExecute(claude);
  assert.deepEqual(seen.search.result, ["/zones"]);
  assert.deepEqual(seen.execute.result, ["example.com", "example.org"]);
  assert.deepEqual(upstreamCalls(), ["GET /zones with the token"]);
});

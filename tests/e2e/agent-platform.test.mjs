// examples/agent-platform, run as a platform would run it against `codemode serve` and a fake
// upstream: the user's own token goes upstream, held requests reach the platform's own prompt,
// console lines stream, and the audit is read back for that user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { startServer, writeConfig, scratchDir, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { BINARY, ROOT } from "./lib/paths.mjs";

const EXAMPLE = path.join(ROOT, "examples", "agent-platform", "platform.mjs");
const USER_KEY = "platform-user-alice-key-8d7c6b";
const APPROVER_KEY = "platform-approver-key-2e3f4a";
const DELETE_RECORD = `async () => {
  console.log("removing r1");
  const removed = await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r1" });
  console.warn("removed", removed.result.id);
  return removed.result.id;
}`;

let api, server, config;

before(async () => {
  api = await startFakeCloudflare({
    routes: { "DELETE /zones/:zone_id/dns_records/:id": (_req, _body, _url, { id }) => ({ status: 200, json: envelope({ id }) }) },
  });
  config = writeConfig(`data_dir = "${scratchDir()}"
[auth]
mode = "keys"
[[auth.keys]]
subject = "alice"
sha256 = "${sha256(USER_KEY)}"
scopes = ["search", "execute:read", "execute:write"]
forward = true
[[auth.keys]]
subject = "platform-approvals"
sha256 = "${sha256(APPROVER_KEY)}"
scopes = ["approve"]
`);
  // No server token: only the user's forwarded token can reach the fake upstream.
  server = await startServer({ apiBase: api.base, args: ["--config", config], token: null });
});

after(async () => {
  await server?.stop();
  await api?.close();
});

/** Runs the example with `code`, answering its prompts with `answers`; resolves to its output. */
function runPlatform(code, answers) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, code], {
      env: {
        PATH: process.env.PATH,
        CODEMODE_URL: server.url,
        USER_API_KEY: USER_KEY,
        USER_UPSTREAM_TOKEN: TEST_TOKEN,
        USER_SUBJECT: "alice",
        PLATFORM_APPROVER_KEY: APPROVER_KEY,
        CODEMODE_BIN: BINARY,
        CODEMODE_CONFIG: config,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const pending = [...answers];
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      // Answer each question once its whole prompt is out.
      while (pending.length && (stdout.match(/\[y\/N\]\n/g) ?? []).length > answers.length - pending.length) {
        child.stdin.write(`${pending.shift()}\n`);
      }
    });
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("the user approves on the platform's prompt: the request goes out with their own token", async () => {
  api.resetCounters();
  const run = await runPlatform(DELETE_RECORD, ["y"]);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /\[ask\] .*DELETE \/zones\/z1\/dns_records\/r1/, "the prompt names the request");
  assert.match(run.stdout, /\[outcome\] {"status":"done","value":"r1"}/);
  assert.match(run.stdout, /\[console:info\] removing r1/);
  assert.match(run.stdout, /\[console:warning\] removed r1/);
  const deletes = api.requests.filter((r) => r.method === "DELETE");
  assert.equal(deletes.length, 1, "sent once, after approval");
  assert.equal(deletes[0].headers.authorization, `Bearer ${TEST_TOKEN}`, "the user's own token went upstream");
  assert.match(run.stdout, /\[audit\] \S+ execute ok DELETE \/zones\/z1\/dns_records\/r1/);
  for (const secret of [TEST_TOKEN, USER_KEY, APPROVER_KEY]) {
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "no output holds a secret");
    assert.ok(!server.output().includes(secret), "the server's log holds no secret");
  }
});

test("the user cancels on the platform's prompt: nothing is sent", async () => {
  api.resetCounters();
  const run = await runPlatform(DELETE_RECORD, ["n"]);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /\[outcome\] {"status":"failed","error":"[^"]*was not approved \(declined\)/);
  assert.doesNotMatch(run.stdout, /"value":"r1"/);
  assert.equal(api.requests.filter((r) => r.method === "DELETE").length, 0);
});

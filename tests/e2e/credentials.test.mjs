// Per-subject stored upstream credentials: set with `codemode credentials set` (from stdin),
// encrypted at rest, used for that subject's calls and never shown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { BINARY } from "./lib/paths.mjs";


test("a subject's stored credential is used for its calls, and appears nowhere", async () => {
  const keygen = spawnSync(BINARY, ["credentials", "keygen"], { encoding: "utf8" });
  assert.equal(keygen.status, 0, keygen.stderr);
  const key = keygen.stdout.trim();
  const dataDir = scratchDir();
  const config = writeConfig(`
data_dir = "${dataDir}"
[auth]
mode = "keys"
[[auth.keys]]
subject = "stored-user"
sha256 = "${sha256("stored-user-key")}"
scopes = ["search", "execute:read"]
[[auth.keys]]
subject = "no-token-user"
sha256 = "${sha256("no-token-user-key")}"
scopes = ["search", "execute:read"]
`);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, CODEMODE_CREDENTIALS_KEY: key };
  const set = spawnSync(BINARY, ["credentials", "set", "--subject", "stored-user", "--config", config], { input: `${TEST_TOKEN}\n`, encoding: "utf8", env });
  assert.equal(set.status, 0, set.stderr);

  const api = await startFakeCloudflare();
  const server = await startServer({ apiBase: api.base, token: null, args: ["--config", config], env: { CODEMODE_CREDENTIALS_KEY: key } });
  const outputs = [set.stdout, set.stderr];
  try {
    const stored = await connectHttp(server.url, "stored", { headers: { authorization: "Bearer stored-user-key" } });
    const zones = await call(stored, "execute", { code: `async () => (await cloudflare.request({ method: "GET", path: "/zones" })).result.length` });
    outputs.push(JSON.stringify(zones.raw));
    assert.equal(zones.json, 2, zones.text);
    assert.equal(api.requests.at(-1).headers.authorization, `Bearer ${TEST_TOKEN}`);
    await stored.close();

    const none = await connectHttp(server.url, "none", { headers: { authorization: "Bearer no-token-user-key" } });
    const refused = await call(none, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/zones" })` });
    outputs.push(JSON.stringify(refused.raw));
    assert.equal(refused.isError, true);
    assert.match(refused.text, /authentication failed/i);
    await none.close();
  } finally {
    await server.stop();
    await api.close();
  }
  outputs.push(server.output());
  for (const file of readdirSync(dataDir)) outputs.push(readFileSync(path.join(dataDir, file)).toString("latin1"));
  for (const output of outputs) assert.ok(!output.includes(TEST_TOKEN), "the stored token leaked");
});

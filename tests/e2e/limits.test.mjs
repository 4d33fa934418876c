// Rate limits and quotas through the official TypeScript SDK, and the approval wait that does
// not count against the sandbox's timeout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256 } from "./lib/codemode.mjs";

const KEY = "limits-key-1f2e3d";
const OTHER_KEY = "limits-key-other-4c5b";
let server;

before(async () => {
  const config = writeConfig(`
data_dir = "${scratchDir()}"
[sandbox]
execute_timeout_secs = 2
[auth]
mode = "keys"
[[auth.keys]]
subject = "user"
sha256 = "${sha256(KEY)}"
scopes = ["search", "execute:read", "execute:write"]
[[auth.keys]]
subject = "other"
sha256 = "${sha256(OTHER_KEY)}"
scopes = ["search", "execute:read", "execute:write"]
[limits]
execute_per_session = 2
execute_per_subject_per_day = 3
concurrent_per_subject = 1
`);
  server = await startServer({ args: ["--demo", "--config", config], spec: null, token: null });
});

after(() => server?.stop());

const connect = (key = KEY, options = {}) => connectHttp(server.url, "limits", { headers: { authorization: `Bearer ${key}` }, ...options });

test("execute calls per session, then per user per day, each say which limit and when it resets", async () => {
  const first = await connect();
  assert.equal((await call(first, "execute", { code: "async () => 1" })).json, 1);
  assert.equal((await call(first, "execute", { code: "async () => 2" })).json, 2);
  const session = await call(first, "execute", { code: "async () => 3" });
  assert.equal(session.isError, true);
  assert.match(session.text, /2 execute calls per session/);
  await first.close();

  const second = await connect();
  assert.equal((await call(second, "execute", { code: "async () => 4" })).json, 4);
  const daily = await call(second, "execute", { code: "async () => 5" });
  assert.equal(daily.isError, true);
  assert.match(daily.text, /3 execute calls per user per UTC day/);
  assert.match(daily.text, /resets at \d{4}-\d\d-\d\dT00:00:00/);
  await second.close();

  const other = await connect(OTHER_KEY);
  assert.equal((await call(other, "execute", { code: "async () => 6" })).json, 6, "another user has a quota of its own");
  await other.close();
});

test("concurrent calls per user are capped; a slot frees when a call finishes", async () => {
  const [a, b] = await Promise.all([connect(OTHER_KEY), connect(OTHER_KEY)]);
  const slow = call(a, "search", { code: "async () => { const end = Date.now() + 800; while (Date.now() < end) {} return 'slow' }" });
  await new Promise((r) => setTimeout(r, 200));
  const refused = await call(b, "search", { code: "async () => 'second'" });
  assert.equal(refused.isError, true);
  assert.match(refused.text, /1 concurrent calls? per user/);
  assert.equal((await slow).json, "slow");
  assert.equal((await call(b, "search", { code: "async () => 'after'" })).json, "after");
  await Promise.all([a.close(), b.close()]);
});

test("time waiting for a person's approval does not count against the execute timeout", async () => {
  const demo = await startServer({
    args: ["--demo", "--config", writeConfig(`data_dir = "${scratchDir()}"\n[sandbox]\nexecute_timeout_secs = 1\n`)],
    spec: null,
    token: null,
  });
  const client = await connectHttp(demo.url, "slow-person", { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async () => {
    await new Promise((r) => setTimeout(r, 2500));
    return { action: "accept", content: {} };
  });
  const result = await call(client, "execute", {
    code: `async () => {
      const zone = (await cloudflare.request({ method: "GET", path: "/zones" })).result[0].id;
      const made = await cloudflare.request({ method: "POST", path: \`/zones/\${zone}/dns_records\`, body: { type: "A", name: "slow.example.com", content: "192.0.2.7" } });
      return made.result.content;
    }`,
  });
  assert.equal(result.json, "192.0.2.7", result.text);
  const loop = await call(client, "execute", { code: "async () => { for (;;) {} }" });
  assert.match(loop.text, /time/i, "the timeout still bounds the code itself");
  await client.close();
  await demo.stop();
});

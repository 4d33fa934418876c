// Approval through elicitation when the server cannot know the client's capabilities, and a
// person who never answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, call, writeConfig, scratchDir } from "./lib/codemode.mjs";

const WRITE_RECORD = `async () => {
  const zone = (await cloudflare.request({ method: "GET", path: "/zones" })).result[0].id;
  try {
    const made = await cloudflare.request({ method: "POST", path: \`/zones/\${zone}/dns_records\`, body: { type: "A", name: "ask.example.com", content: "192.0.2.9" } });
    return made.result.content;
  } catch (e) {
    return "refused: " + e.message;
  }
}`;

async function demo(extraArgs, toml = "") {
  const config = writeConfig(`data_dir = "${scratchDir()}"\n${toml}`);
  return startServer({ args: ["--demo", "--config", config, ...extraArgs], spec: null, token: null });
}

test("a stateless server that cannot see the client's capabilities hands back an approval id", async () => {
  // Over 2025-11-25 a stateless request does not carry the client's capabilities (they were in
  // an earlier initialize), so the server must not assume it can ask: it defers instead.
  const server = await demo(["--stateless"]);
  const client = await connectHttp(server.url, "stateless-asker", { capabilities: { elicitation: {} } });
  const asked = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: "accept", content: {} };
  });
  try {
    const result = await call(client, "execute", { code: WRITE_RECORD });
    assert.match(result.json?.approval_required?.approval_id ?? "", /^[0-9a-f]{32}$/, result.text);
    assert.equal(asked.length, 0);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("no answer in time rejects the request, catchably", async () => {
  const server = await demo([], "[approvals]\nask_timeout_secs = 0.5\n");
  const client = await connectHttp(server.url, "silent-person", { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, () => new Promise(() => {}));
  try {
    const result = await call(client, "execute", { code: WRITE_RECORD });
    assert.match(result.json, /^refused: POST \/zones\/[0-9a-f]+\/dns_records was not approved \(no answer in time\)/);
  } finally {
    await client.close();
    await server.stop();
  }
});

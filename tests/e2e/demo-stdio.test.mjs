// The demo API needs no account and no network; `codemode stdio` works through the SDK's stdio client.
import { test } from "node:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { startServer, connectHttp, connectStdio, call, writeConfig } from "./lib/codemode.mjs";

test("serve --demo: search and execute against the in-memory API over HTTP, DNS writes approved by the person", async () => {
  const config = writeConfig(`data_dir = "${mkdtempSync(path.join(tmpdir(), "codemode-data-"))}"\n`);
  const server = await startServer({ args: ["--demo", "--config", config], spec: null, token: null });
  const client = await connectHttp(server.url, "demo-e2e", { capabilities: { elicitation: {} } });
  const asked = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: "accept", content: {} };
  });
  try {
    const found = await call(client, "search", {
      code: `async () => Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map(m => m.toUpperCase() + " " + p))`,
    });
    assert.equal(found.isError, false, found.text);
    assert.ok(found.json.includes("GET /zones"), found.text);
    const made = await call(client, "execute", {
      code: `async () => {
        const zones = (await cloudflare.request({ method: "GET", path: "/zones" })).result;
        const zone = zones[0].id;
        const created = await cloudflare.request({ method: "POST", path: \`/zones/\${zone}/dns_records\`, body: { type: "A", name: "e2e." + zones[0].name, content: "192.0.2.1", ttl: 300 } });
        const listed = await cloudflare.request({ method: "GET", path: \`/zones/\${zone}/dns_records\`, query: { name: "e2e." + zones[0].name } });
        await cloudflare.request({ method: "DELETE", path: \`/zones/\${zone}/dns_records/\${created.result.id}\` });
        return { account: accountId, listed: listed.result.map(r => r.content) };
      }`,
    });
    assert.equal(made.isError, false, made.text);
    assert.deepEqual(made.json.listed, ["192.0.2.1"]);
    assert.match(made.json.account, /^[0-9a-f]{32}$/);
    assert.equal(asked.length, 2, "the DNS write and the delete each needed a person's approval");
    assert.match(asked[0], /^Approve POST \/zones\/[0-9a-f]+\/dns_records\?/);
    assert.match(asked[0], /192\.0\.2\.1/, "the question summarises the body");
    assert.match(asked[1], /^Approve DELETE /);
  } finally {
    await client.close();
    await server.stop();
  }
});

test("codemode stdio --demo: search and execute through StdioClientTransport", async () => {
  const { client, stderr } = await connectStdio({ args: ["--demo"], token: null });
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["execute", "search"]);
    const found = await call(client, "search", { code: "async () => Object.keys(spec.paths).length" });
    assert.ok(found.json > 3, found.text);
    const zones = await call(client, "execute", { code: `async () => { console.log("listing"); return (await cloudflare.request({ method: "GET", path: "/zones" })).result.length }` });
    assert.equal(zones.isError, false, zones.text);
    assert.ok(zones.json >= 1);
    assert.match(zones.all, /listing/);
  } finally {
    await client.close();
  }
  assert.doesNotMatch(stderr(), /panick/);
});

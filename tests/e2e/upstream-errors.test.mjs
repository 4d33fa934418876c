// How `execute` explains a rejected credential and an undeterminable account.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, connectHttp, call } from "./lib/codemode.mjs";
import { startFakeCloudflare, ACCOUNT, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";

const cleanup = [];
after(async () => {
  for (const stop of cleanup.reverse()) await stop();
});

async function setup({ token, accounts }) {
  const api = await startFakeCloudflare({ accounts });
  const server = await startServer({ apiBase: api.base, token });
  const client = await connectHttp(server.url);
  cleanup.push(() => api.close(), () => server.stop(), () => client.close());
  return { api, server, client };
}

test("a rejected token is a tool error that says authentication failed, without the token", async () => {
  const wrong = "wrong-token-value-abc123";
  const { client, server } = await setup({ token: wrong });
  const r = await call(client, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/zones" })` });
  assert.equal(r.isError, true);
  assert.match(r.text, /authentication/i);
  assert.match(r.text, /401/);
  assert.match(r.text, /10000|Authentication error/);
  assert.ok(!r.all.includes(wrong) && !server.output().includes(wrong));
});

test("with no token configured, execute explains what to set", async () => {
  const { client } = await setup({ token: "" });
  const r = await call(client, "execute", { code: `async () => cloudflare.request({ method: "GET", path: "/zones" })` });
  assert.equal(r.isError, true);
  assert.match(r.text, /CLOUDFLARE_API_TOKEN|token/);
});

test("several accounts: reading accountId explains why it is not set", async () => {
  const { client } = await setup({ token: TEST_TOKEN, accounts: [ACCOUNT, { id: "fedcba9876543210fedcba9876543210", name: "Other" }] });
  const r = await call(client, "execute", { code: `async () => accountId` });
  assert.equal(r.isError, true);
  assert.match(r.text, /account_id|CLOUDFLARE_ACCOUNT_ID/);
  const ok = await call(client, "execute", { code: `async () => accountId`, account_id: ACCOUNT.id });
  assert.equal(ok.json, ACCOUNT.id);
});

test("no accounts: reading accountId explains why", async () => {
  const { client } = await setup({ token: TEST_TOKEN, accounts: [] });
  const r = await call(client, "execute", { code: `async () => { try { return accountId } catch (e) { return "caught: " + e.message } }` });
  assert.match(r.json, /^caught: .*account/i);
});

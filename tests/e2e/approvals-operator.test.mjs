// A person can always approve: with `auth.mode = "none"` the operator decides on the approval
// page (driven here in headless Chromium) or with `codemode approvals` on the machine, and the
// agent's client, which cannot elicit, sees the outcome when it calls `execute` again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { chromium } from "playwright-core";
import { startServer, connectHttp, call, writeConfig, scratchDir, sha256 } from "./lib/codemode.mjs";
import { startFakeCloudflare, envelope, TEST_TOKEN } from "./lib/fake-cloudflare.mjs";
import { runCli } from "./lib/cli.mjs";
import { BINARY } from "./lib/paths.mjs";

/** The flags Debian's Chromium needs on a machine with no network but loopback. */
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const DELETE_RECORD = `async () => (await cloudflare.request({ method: "DELETE", path: "/zones/z1/dns_records/r1" })).result.id`;
const PURGE = `async () => (await cloudflare.request({ method: "POST", path: "/zones/z9/purge_cache", body: { purge_everything: true } })).result.id`;

let api, server, config, browser, client;
const outputs = [];

before(async () => {
  api = await startFakeCloudflare({
    routes: {
      "DELETE /zones/:zone_id/dns_records/:id": (_req, _body, _url, { id }) => ({ status: 200, json: envelope({ id }) }),
      "POST /zones/:zone_id/purge_cache": () => ({ status: 200, json: envelope({ id: "purged" }) }),
    },
  });
  config = writeConfig(`data_dir = "${scratchDir()}"\n`);
  server = await startServer({ apiBase: api.base, args: ["--config", config] });
  client = await connectHttp(server.url, "no-elicitation-agent");
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await client?.close();
  await server?.stop();
  await api?.close();
  for (const text of [...outputs, server.output()]) assert.ok(!text.includes(TEST_TOKEN), "no output holds the upstream token");
});

async function exec(code, extra = {}) {
  const result = await call(client, "execute", { code, ...extra });
  outputs.push(JSON.stringify(result.raw));
  return result;
}

/** An execute call that must stop for approval; its `approval_required`. */
async function held(code) {
  const result = await exec(code);
  const required = result.json?.approval_required;
  assert.ok(required, result.text);
  return required;
}

/** POSTs a form to `url` naming another `Host` (fetch cannot), and resolves to the status. */
function postWithHost(url, host, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", headers: { host, "content-type": "application/x-www-form-urlencoded" } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on("error", reject);
    request.end(body);
  });
}

const deletes = () => api.requests.filter((r) => r.method === "DELETE").length;
const purges = () => api.requests.filter((r) => r.path.endsWith("/purge_cache")).length;

test("the approval page approves one request and rejects another, in a real browser", async () => {
  api.resetCounters();
  const required = await held(DELETE_RECORD);
  const origin = new URL(server.url).origin;
  assert.equal(required.approval_page, `${origin}/approvals/${required.approval_id}`, "the result carries the page's absolute URL");
  assert.ok(required.how_to_approve.includes(required.approval_page), required.how_to_approve);
  assert.ok(required.how_to_approve.includes(`codemode approvals approve ${required.approval_id}`));
  const self = await fetch(`${origin}/approvals/${required.approval_id}/approve`, { method: "POST" });
  assert.equal(self.status, 403, "the agent's subject still cannot approve its own request over the JSON route");

  const page = await browser.newPage();
  const shown = await page.goto(required.approval_page);
  assert.equal(shown.status(), 200);
  assert.equal(shown.headers()["x-frame-options"], "DENY");
  assert.equal(await page.locator(".method").innerText(), "DELETE", "the method stands on its own line");
  assert.match(await page.locator(".agent").innerText(), /chosen by the agent's code: \/zones\/z1\/dns_records\/r1$/);
  assert.equal(await page.locator("#status").innerText(), "pending");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForSelector("#decided");
  assert.equal(await page.locator("#decided").innerText(), "approved by operator.");
  assert.equal(await page.locator("#status").innerText(), "approved");
  assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0, "a decided approval offers no buttons");
  assert.equal(deletes(), 0, "approving sends nothing by itself");

  const approved = await exec(DELETE_RECORD, { approval_id: required.approval_id });
  assert.equal(approved.json, "r1", approved.text);
  assert.equal(deletes(), 1);

  const purge = await held(PURGE);
  await page.goto(purge.approval_page);
  assert.equal(await page.locator(".method").innerText(), "POST");
  assert.match(await page.locator("li").innerText(), /body SHA-256 [0-9a-f]{64}/);
  await page.getByRole("button", { name: "Reject" }).click();
  await page.waitForSelector("#decided");
  assert.equal(await page.locator("#decided").innerText(), "rejected by operator.");
  const rejected = await exec(PURGE, { approval_id: purge.approval_id });
  assert.match(rejected.text, /cannot be used: it was rejected/, "a rejected approval lets nothing through");
  assert.equal(purges(), 0);
  await page.close();
});

test("the page's form refuses posts from another site and forms it did not make", async () => {
  const required = await held(DELETE_RECORD);
  const page = await browser.newPage();
  await page.goto(required.approval_page);
  const token = await page.locator("input[name=token]").getAttribute("value");
  await page.close();
  const post = (headers, body) => fetch(required.approval_page, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
  const crossSite = await post({ origin: "http://evil.example", "sec-fetch-site": "cross-site" }, `decision=approve&token=${token}`);
  assert.equal(crossSite.status, 403);
  const forged = await post({}, `decision=approve&token=${"0".repeat(64)}`);
  assert.equal(forged.status, 403);
  assert.match(await forged.text(), /not one this server made/);
  const rebound = await postWithHost(required.approval_page, "rebound.example", `decision=approve&token=${token}`);
  assert.equal(rebound, 403, "a host name the server does not serve (DNS rebinding) is refused");
  const still = await fetch(`${new URL(server.url).origin}/approvals/${required.approval_id}`);
  assert.equal((await still.json()).status, "pending", "none of the refused posts decided anything");
  const missing = await fetch(`${new URL(server.url).origin}/approvals/${"f".repeat(32)}`, { headers: { accept: "text/html" } });
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /does not exist/);
});

test("codemode approvals lists, shows, approves and rejects on the machine", async () => {
  api.resetCounters();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  const approvals = (...args) => runCli(BINARY, ["approvals", "--config", config, ...args], { env });
  const required = await held(DELETE_RECORD);
  const list = await approvals("list");
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${required.approval_id}  asked by local`, "m"));
  assert.match(list.stdout, /^ {2}DELETE +\/zones\/z1\/dns_records\/r1 +\(no body\)$/m);
  const shown = await approvals("show", required.approval_id, "--json");
  assert.equal(JSON.parse(shown.stdout).status, "pending");

  const approved = await approvals("approve", required.approval_id);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, new RegExp(`approval ${required.approval_id} approved by operator`));
  const again = await approvals("reject", required.approval_id);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /was already approved/);
  const result = await exec(DELETE_RECORD, { approval_id: required.approval_id });
  assert.equal(result.json, "r1", result.text);
  assert.equal(deletes(), 1);

  const purge = await held(PURGE);
  const rejected = await approvals("reject", purge.approval_id);
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.match((await exec(PURGE, { approval_id: purge.approval_id })).text, /cannot be used: it was rejected/);
  assert.equal(purges(), 0);
  const unknown = await approvals("approve", "nope");
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /approval nope does not exist/);
});

test("with auth on, the page needs an `approve` principal", async () => {
  const agentKey = "page-agent-key-1f2e3d";
  const approverKey = "page-approver-key-4c5b6a";
  const keyed = writeConfig(`data_dir = "${scratchDir()}"
[auth]
mode = "keys"
[[auth.keys]]
subject = "agent"
sha256 = "${sha256(agentKey)}"
scopes = ["search", "execute:read", "execute:write"]
[[auth.keys]]
subject = "alice"
sha256 = "${sha256(approverKey)}"
scopes = ["approve"]
`);
  const guarded = await startServer({ apiBase: api.base, args: ["--config", keyed] });
  const agent = await connectHttp(guarded.url, "keyed-agent", { headers: { authorization: `Bearer ${agentKey}` } });
  const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${approverKey}` } });
  try {
    const result = await call(agent, "execute", { code: DELETE_RECORD });
    const required = result.json?.approval_required;
    assert.ok(required, result.text);
    const html = { accept: "text/html" };
    assert.equal((await fetch(required.approval_page, { headers: html })).status, 401);
    assert.equal((await fetch(required.approval_page, { headers: { ...html, authorization: `Bearer ${agentKey}` } })).status, 403);
    const page = await context.newPage();
    await page.goto(required.approval_page);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForSelector("#decided");
    assert.equal(await page.locator("#decided").innerText(), "approved by alice.");
    const done = await call(agent, "execute", { code: DELETE_RECORD, approval_id: required.approval_id });
    assert.equal(done.json, "r1", done.text);
  } finally {
    await context.close();
    await agent.close();
    await guarded.stop();
  }
});

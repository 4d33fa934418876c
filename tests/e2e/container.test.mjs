// The container's settings, without Docker (none runs here): the environment the image sets
// (docker/Dockerfile's ENV) and the one docker/compose.yaml adds, given to the real binary as
// the container gives them. They must pass the rule beyond loopback (auth on, allowed hosts
// set), serve the demo to a client holding the key, and answer the image's health check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { BINARY, ROOT } from "./lib/paths.mjs";
import { runCli } from "./lib/cli.mjs";
import { call, connectHttp, scratchDir, sha256, startServer } from "./lib/codemode.mjs";

const KEY = "container-e2e-key-51c2";

/** The image's `ENV` assignments, its data directories moved to a scratch directory. */
function imageEnv() {
  const dockerfile = readFileSync(path.join(ROOT, "docker/Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const env = {};
  for (const line of dockerfile.split("\n").filter((l) => l.startsWith("ENV "))) {
    for (const [, name, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[name] = value;
  }
  assert.ok(env.CODEMODE_LISTEN?.startsWith("0.0.0.0:"), `the image listens beyond loopback: ${JSON.stringify(env)}`);
  const data = scratchDir();
  for (const name of Object.keys(env).filter((n) => n.startsWith("XDG_"))) env[name] = path.join(data, name);
  return env;
}

/** A compose service's environment and command, `${NAME:?…}` and `${NAME:-…}` filled in. */
function composeService(name, vars) {
  const compose = parse(readFileSync(path.join(ROOT, "docker/compose.yaml"), "utf8"));
  const service = compose.services[name];
  const env = Object.fromEntries(Object.entries(service.environment).map(([key, value]) => [
    key,
    String(value).replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_, variable) => vars[variable] ?? ""),
  ]));
  return { env, command: service.command };
}

const base = () => ({ PATH: process.env.PATH, HOME: process.env.HOME });

test("compose's settings pass the rule beyond loopback; without its key they are refused, naming auth", async () => {
  const { env } = composeService("codemode", { CODEMODE_KEY_SHA256: sha256(KEY) });
  const good = await runCli(BINARY, ["config", "check", "--demo"], { env: { ...base(), ...imageEnv(), ...env } });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /settings ok: listen 0\.0\.0\.0:8787/);

  const { CODEMODE_AUTH: _, ...withoutAuth } = env;
  const bad = await runCli(BINARY, ["config", "check", "--demo"], { env: { ...base(), ...imageEnv(), ...withoutAuth } });
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stderr, /auth\.mode/);
});

test("the container serves the demo beyond loopback to the key's holder and answers its health check", async (t) => {
  const { env, command } = composeService("codemode", { CODEMODE_KEY_SHA256: sha256(KEY) });
  assert.deepEqual(command, ["serve", "--demo"]);
  // The image's address with a free port: 0.0.0.0, as inside the container.
  const server = await startServer({
    listen: null,
    spec: null,
    token: null,
    args: command.slice(1),
    env: { ...imageEnv(), ...env, CODEMODE_LISTEN: "0.0.0.0:0" },
  });
  t.after(() => server.stop());
  const port = new URL(server.url).port;
  assert.ok(server.output().includes(`0.0.0.0:${port}`), server.output());
  const url = `http://127.0.0.1:${port}/mcp`;

  const health = await runCli(BINARY, ["health", "--url", `http://127.0.0.1:${port}/healthz`], { env: base() });
  assert.equal(health.code, 0, `the image's HEALTHCHECK command: ${health.stderr}`);

  const anonymous = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
  assert.equal(anonymous.status, 401, "beyond loopback, auth is on");
  const client = await connectHttp(url, "container", { headers: { authorization: `Bearer ${KEY}` } });
  t.after(() => client.close());
  const r = await call(client, "search", { code: "async () => Object.keys(spec.paths).length > 0" });
  assert.equal(r.isError, false, r.text);
  assert.equal(r.json, true);
});

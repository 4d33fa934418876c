// Starts the real codemode binary and connects the official MCP TypeScript SDK client to it.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BINARY, CLOUDFLARE_SPEC } from "./paths.mjs";
import { TEST_TOKEN } from "./fake-cloudflare.mjs";

/** The SHA-256 of a text, in hex: what `[[auth.keys]] sha256` holds for an API key. */
export const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/** A fresh temp dir, e.g. for a server's data (audit log) so tests never touch the real HOME. */
export function scratchDir() {
  return mkdtempSync(path.join(tmpdir(), "codemode-data-"));
}

/** Writes a config file into a fresh temp dir and returns its path. */
export function writeConfig(toml) {
  const dir = mkdtempSync(path.join(tmpdir(), "codemode-test-"));
  const file = path.join(dir, "codemode.toml");
  writeFileSync(file, toml);
  return file;
}

/**
 * Runs `codemode serve` on an ephemeral loopback port (`listen: null` leaves the address to the
 * settings). `args` are extra CLI flags. Resolves once the server listens; `output()` is
 * everything it printed so far.
 */
export async function startServer({ args = [], spec = CLOUDFLARE_SPEC, apiBase, env = {}, token = TEST_TOKEN, listen = "127.0.0.1:0" } = {}) {
  const argv = ["serve", ...(listen ? ["--listen", listen] : []), ...args];
  if (spec) argv.push("--spec", spec);
  if (apiBase) argv.push("--api-base", apiBase);
  const child = spawn(BINARY, argv, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_DATA_HOME: scratchDir(), RUST_LOG: "info", ...(token ? { CLOUDFLARE_API_TOKEN: token } : {}), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    const onData = () => {
      const match = output.match(/listening on (http:\/\/\S+\/mcp)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/**
 * Connects an SDK client over Streamable HTTP. `capabilities` are the client's (e.g.
 * `{ elicitation: {} }`); `headers` go with every request (e.g. an Authorization header).
 */
export async function connectHttp(url, name = "codemode-e2e", { capabilities = {}, headers } = {}) {
  const client = new Client({ name, version: "1.0.0" }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** Starts `codemode stdio` through the SDK's StdioClientTransport. */
export async function connectStdio({ args = [], env = {}, token = TEST_TOKEN } = {}) {
  const transport = new StdioClientTransport({
    command: BINARY,
    args: ["stdio", ...args],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_DATA_HOME: scratchDir(), ...(token ? { CLOUDFLARE_API_TOKEN: token } : {}), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  const client = new Client({ name: "codemode-e2e-stdio", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** Calls a tool and returns {text, json, isError, raw, all}. `text` is the first block. */
export async function call(client, name, args, options) {
  return readResult(await client.callTool({ name, arguments: args }, undefined, options));
}

/** A tool result as {text, json, isError, raw, all}: `text` is the first block, `json` it parsed when it is JSON. */
export function readResult(raw) {
  const text = raw.content?.[0]?.text ?? "";
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { text, json, isError: raw.isError === true, raw, all: (raw.content ?? []).map((c) => c.text).join("\n") };
}

/** Waits until `read()` matches `pattern`; fails after `ms` with what was read. */
export async function waitFor(read, pattern, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const match = read().match(pattern);
    if (match) return match;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never matched ${pattern}:\n${read()}`);
}

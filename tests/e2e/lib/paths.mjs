// Where the repository, the shared test material and the built binary are.
import { fileURLToPath } from "node:url";
import path from "node:path";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const SHARED = path.resolve(ROOT, "..", "shared");
export const CLOUDFLARE_SPEC = path.join(SHARED, "specs", "cloudflare-openapi-2024-08.json");
export const BINARY = process.env.CODEMODE_BIN ?? path.join(ROOT, "target", "release", "codemode");

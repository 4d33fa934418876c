#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests, the official MCP conformance suite, and
# the end-to-end tests that drive the real binary through the official MCP TypeScript and Python
# SDKs, the MCP Inspector CLI, Claude Code and headless Chromium (the approval page), over
# Streamable HTTP and stdio; and fuzzes every parser an attacker reaches for a bounded time
# (fuzz/run.sh). The Rust tests and the e2e tests run beside a real Redis and Postgres on
# loopback (tests/stores/with-servers.sh installs, starts and stops them).
set -euo pipefail
cd "$(dirname "$0")/.."

# Fuzzing first, then its build removed when FUZZ_CLEAN is set (CI does): the fuzz build (about
# 2 GB) never shares the disk with the release build and the e2e clients (about 1.5 GB and 1 GB).
# The seed is fixed, so the test command repeats one mutation sequence (a regression pass);
# explore new inputs with fuzz/run.sh by hand.
echo "== fuzz"
FUZZ_SEED="${FUZZ_SEED:-1}" fuzz/run.sh
if [[ -n ${FUZZ_CLEAN:-} ]]; then
  rm -rf fuzz/target
fi

echo "== npm ci (the e2e clients, and GitHub's spec for the spec crate's find tests)"
(cd tests && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo test (release)"
cargo build --release --locked --bin codemode
tests/stores/with-servers.sh cargo test --release --locked --workspace

echo "== MCP conformance suite (official, stable + alpha)"
tests/conformance/run.sh

echo "== end-to-end tests through the official MCP Python SDK"
tests/python/run.sh

echo "== end-to-end tests through MCP clients"
# The approval page's test drives Debian's Chromium (Playwright cannot fetch a browser here).
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd examples/agent-platform && npm ci --no-audit --no-fund --loglevel=error)
(cd tests && stores/with-servers.sh node --test --test-concurrency=2 e2e/)

#!/usr/bin/env bash
# Runs the Python end-to-end tests: the official MCP Python SDK (its high-level Client and its
# low-level ClientSession, over Streamable HTTP and stdio) against the real codemode binary.
# The SDK, pytest and everything they pull in are pinned in requirements.txt and installed into
# .venv on the first run, and again whenever requirements.txt changes. Extra arguments go to pytest.
# Environment: CODEMODE_BIN (default target/release/codemode, built if missing), PYTHON (the
# interpreter that makes the venv, default python3) and PYTHON_TESTS_TIMEOUT (seconds for the whole
# run, default 300).
set -euo pipefail
cd "$(dirname "$0")"

root=$(cd ../.. && pwd)
readonly root
readonly venv=$PWD/.venv
readonly stamp=$venv/.installed

if [[ ! -f $stamp || requirements.txt -nt $stamp ]]; then
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  touch "$stamp"
fi

export CODEMODE_BIN=${CODEMODE_BIN:-$root/target/release/codemode}
if [[ ! -x $CODEMODE_BIN ]]; then
  (cd "$root" && cargo build --release --locked --bin codemode)
fi

status=0
timeout --kill-after=10 "${PYTHON_TESTS_TIMEOUT:-300}" "$venv/bin/python" -m pytest "$@" || status=$?
if ((status == 5)); then
  echo "python tests: pytest collected no tests" >&2
  exit 1
fi
exit "$status"

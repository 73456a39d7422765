#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for bench/side_by_side (the peer).
#
#   cluster.sh start DIR PORT   initdb DIR/data, start it listening on
#                               127.0.0.1:PORT, its socket in DIR/socket, its
#                               log in DIR/postgres.log
#   cluster.sh stop DIR [keep]  pg_ctl stop -m fast, then delete DIR/data
#                               (with `keep`: leave it, e.g. for --keep-data)
#
# Installs Debian's postgresql when /usr/lib/postgresql/15/bin is missing
# (apt-get, as scripts/setup.sh does). As root, the server runs as the
# `postgres` user (runuser), so DIR must be reachable by that user.
# Durability settings (fsync, synchronous_commit, full_page_writes,
# wal_sync_method …) are PostgreSQL's defaults; only listen_addresses, port,
# unix_socket_directories and max_connections are set. Authentication is
# `trust` on loopback: the cluster is a throwaway for one bench run.
set -euo pipefail

PG_BIN="${KRING_PG_BIN:-/usr/lib/postgresql/15/bin}"

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_postgres() {
  [ -x "$PG_BIN/initdb" ] && return 0
  echo "cluster.sh: installing postgresql" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
  [ -x "$PG_BIN/initdb" ] || { echo "cluster.sh: no $PG_BIN/initdb after installing postgresql" >&2; exit 1; }
}

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: cluster.sh start DIR PORT | stop DIR [keep]" >&2; exit 2; }

case "$cmd" in
  start)
    port="${3:?usage: cluster.sh start DIR PORT}"
    install_postgres
    mkdir -p "$dir/data" "$dir/socket"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir" "$dir/data" "$dir/socket"
      # The server must reach DIR: every folder above it needs o+x.
      if ! runuser -u postgres -- test -w "$dir/socket"; then
        echo "cluster.sh: the postgres user cannot reach $dir (make the folders above it o+x)" >&2
        exit 1
      fi
    fi
    chmod 0700 "$dir/data"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c max_connections=100" \
      start >&2 || { tail -n 30 "$dir/postgres.log" >&2; exit 1; }
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || true
    fi
    [ "${3:-}" = keep ] || rm -rf "$dir/data" "$dir/socket"
    ;;
  *)
    echo "usage: cluster.sh start DIR PORT | stop DIR [keep]" >&2
    exit 2
    ;;
esac

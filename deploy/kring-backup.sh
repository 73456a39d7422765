#!/bin/sh
# One online backup of kringd into a new dated folder, then retention (deploy/README.md,
# "Scheduled backups"). Installed as /usr/local/bin/kring-backup; run by kring-backup.service.
#
#   KRING_BACKUP_DIR   the folder of the backups (default /var/backups/kring); must exist
#   KRING_BACKUP_KEEP  how many backups to keep, the newest (default 7; at least 1)
#   KRINGCTL           the kringctl to run (default: kringctl on PATH)
#   KRING_SERVER, KRING_TOKEN_FILE, KRING_TLS_CA, ...: read by kringctl itself
#
# Each backup is DIR/<UTC time, e.g. 2026-12-04T023012.345Z>/ (events/, keys/, access-log/, as
# kringctl backup writes it) with kringctl's answer in BACKUP.json inside it (keep its head_hash
# for kringctl restore --expect-head-hash). Retention runs only after a backup succeeded, and only
# removes folders named like that which hold a backup (events/CURRENT): nothing else in DIR is
# touched, and a failed backup never costs an old one. Exit status: kringctl's on a failed backup,
# 2 on bad settings, 0 otherwise.
set -eu

dir="${KRING_BACKUP_DIR:-/var/backups/kring}"
keep="${KRING_BACKUP_KEEP:-7}"
kringctl="${KRINGCTL:-kringctl}"

case "$keep" in
  '' | *[!0-9]*) echo "kring-backup: KRING_BACKUP_KEEP: must be a whole number of at least 1, got \"$keep\"" >&2; exit 2 ;;
esac
if [ "$keep" -lt 1 ]; then
  echo "kring-backup: KRING_BACKUP_KEEP: must be a whole number of at least 1, got \"$keep\"" >&2
  exit 2
fi
case "$dir" in
  /*) ;;
  *) echo "kring-backup: KRING_BACKUP_DIR: must be an absolute path, got \"$dir\"" >&2; exit 2 ;;
esac
if [ ! -d "$dir" ]; then
  echo "kring-backup: KRING_BACKUP_DIR: $dir does not exist (make it: install -d -o kring -g kring -m 0700 $dir)" >&2
  exit 2
fi

name="$(date -u +%Y-%m-%dT%H%M%S.%3NZ)"
answer="$("$kringctl" backup --to "$dir/$name" --json)" || exit $?
printf '%s\n' "$answer" > "$dir/$name/BACKUP.json"
echo "kring-backup: msg=backup_written path=$dir/$name"

# Retention: the backups, oldest first (the names sort by time), all but the newest $keep.
backups="$(find "$dir" -mindepth 1 -maxdepth 1 -type d \
  -regex '.*/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]\.[0-9][0-9][0-9]Z' \
  -exec test -f '{}/events/CURRENT' ';' -print | sort)"
count="$(printf '%s\n' "$backups" | grep -c . || true)"
if [ "$count" -gt "$keep" ]; then
  printf '%s\n' "$backups" | head -n "$((count - keep))" | while IFS= read -r old; do
    rm -rf -- "$old"
    echo "kring-backup: msg=backup_removed path=$old reason=retention keep=$keep"
  done
fi

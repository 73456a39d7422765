#!/usr/bin/env bash
# Builds the container image of kringd and kringctl (deploy/Containerfile) with podman, as
# localhost/kring:dev (or the tag given as $1), and checks that it runs: `kringd --help` in it.
#
# The base image: $KRING_BASE_IMAGE when set (e.g. docker.io/library/debian:12 where a registry
# is reachable); otherwise localhost/debian:12, made once from Debian's packages with debootstrap
# (about 200 MB, a minute or two) when podman does not have it yet.
# The host's ccache folder is mounted into the build, so files compiled on this machine before
# are cache hits.
#
# Podman settings for machines like the build machine, where crun cannot run containers (cgroups
# in hybrid mode) and the hard limits are below podman's defaults: runc as the runtime, and the
# open-files and process limits set below the host's. Override with $KRING_PODMAN_RUNTIME.
# Not part of ctest (it takes minutes): deploy/README.md, "Container image".
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-localhost/kring:dev}"
RUNTIME="${KRING_PODMAN_RUNTIME:-runc}"

need=()
command -v podman >/dev/null || need+=(podman)
[ "$RUNTIME" != runc ] || command -v runc >/dev/null || need+=(runc)
[ -n "${KRING_BASE_IMAGE:-}" ] || command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

BASE="${KRING_BASE_IMAGE:-localhost/debian:12}"
if [ -z "${KRING_BASE_IMAGE:-}" ] && ! podman image exists "$BASE"; then
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "container: making $BASE with debootstrap" >&2
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >&2
  tar -C "$rootfs" -c . | podman import - "$BASE" >&2
fi

limits=(--ulimit "nofile=4096:4096" --ulimit "nproc=4096:4096")
ccache_dir="${CCACHE_DIR:-$HOME/.cache/ccache}"
mkdir -p "$ccache_dir"
start=$(date +%s)
podman --runtime "$RUNTIME" build "${limits[@]}" --network host --build-arg "BASE=$BASE" \
  -v "$ccache_dir:/ccache" -f deploy/Containerfile -t "$TAG" . >&2
echo "container: built $TAG in $(($(date +%s) - start)) s" >&2
# The binaries run in the image (their libraries are all there): the first lines of their help.
help="$(podman --runtime "$RUNTIME" run --rm "${limits[@]}" "$TAG" --help)"
printf '%s\n' "$help" | sed -n 1,2p
help="$(podman --runtime "$RUNTIME" run --rm "${limits[@]}" --entrypoint /usr/local/bin/kringctl "$TAG" --help)"
printf '%s\n' "$help" | sed -n 1,2p
podman image ls "$TAG"

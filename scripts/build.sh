#!/usr/bin/env bash
# Configures and builds Kring into ./build (or $KRING_BUILD_DIR) with Ninja and
# ccache. Extra arguments are ninja targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${KRING_BUILD_DIR:-build}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Hash paths relative to the checkout, so another clone reuses the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
# Two cores: two jobs keep memory and the machine responsive.
ninja -C "$BUILD_DIR" -j "${KRING_BUILD_JOBS:-2}" "$@" >&2

#!/usr/bin/env bash
# Installs everything khw's build and tests need on a Debian/Ubuntu machine (run as root or with sudo):
# the real tools the tests check against (OpenSSL, HAProxy, etcd, OpenSSH, systemd-analyze, ...),
# pnpm (the version pinned in package.json) and the workspace's npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2046
  $SUDO apt-get install -y -qq --no-install-recommends $(grep -v '^#' .ci/apt-packages.txt) >/dev/null
else
  echo "setup: not a Debian/Ubuntu machine; install the packages in .ci/apt-packages.txt yourself" >&2
fi

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  npm install -g "pnpm@$want" >/dev/null
fi
pnpm install --frozen-lockfile

#!/usr/bin/env bash
# The whole test suite on a fresh machine, in one command:
#   1. the Debian packages behind the real components (Docker engine, PostgreSQL, ...),
#   2. a running Docker engine and the offline test image,
#   3. node_modules from package-lock.json (npm ci) when missing or stale,
#   4. npm test, with Docker-backed tests required (a missing engine fails the run).
# OWNOPS_REQUIRE_DOCKER=0 lets Docker-backed tests skip instead (a laptop without Docker).
# Arguments are passed to vitest (e.g. a file name, or --reporter options).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${OWNOPS_REQUIRE_DOCKER:-1} == 1 ]]; then
  bash scripts/test-env.sh install
  bash scripts/test-env.sh up
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

export OWNOPS_REQUIRE_DOCKER=${OWNOPS_REQUIRE_DOCKER:-1}
npm test -- "$@"

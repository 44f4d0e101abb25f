#!/usr/bin/env bash
# npm's prepare step, after the build: node_modules/.bin/moat -> bin/moat.js, so `npx moat` in
# the checkout runs the checkout's own moat from node_modules/.bin, as `npx tsc` runs tsc. With a
# "bin" entry in package.json instead, npm 10 and 11 would install the checkout into npx's cache
# on the first `npx moat` (building it a second time) and check that install on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p node_modules/.bin
ln -sfn ../../bin/moat.js node_modules/.bin/moat

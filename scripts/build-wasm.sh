#!/usr/bin/env bash
# `npm run build`'s first step: the CPU core (`npm run build:wasm`, asc) only when its inputs
# changed since dist/cpu.wasm was built, so a build of an unchanged tree compiles nothing. The
# inputs are the core's sources, asconfig.json, the build:wasm command and the installed asc and
# binaryen; dist/cpu.wasm.inputs records their hash with the core's own, so a core that is
# missing or was changed since is built again too.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/cpu.wasm.inputs
inputs() {
  find src/accel/soft/cpu -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  sha256sum asconfig.json node_modules/assemblyscript/package.json node_modules/binaryen/package.json
  grep '"build:wasm"' package.json
}
want=$(inputs | sha256sum | cut -d' ' -f1)
core() { sha256sum dist/cpu.wasm | cut -d' ' -f1; }
if [[ -f dist/cpu.wasm && -f $stamp && "$(cat "$stamp")" == "$want $(core)" ]]; then
  echo "dist/cpu.wasm: up to date"
  exit 0
fi
npm run build:wasm
echo "$want $(core)" >"$stamp"

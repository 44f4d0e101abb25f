#!/usr/bin/env bash
# npm's prepack step: dist/npm-bin/moat, the command a package installed from `npm pack`'s tarball
# gets (package.json's directories.bin). It exists only while packing (postpack removes it): a
# `bin` entry named moat that the checkout's own package.json shows would make `npx moat` in the
# checkout install the checkout into npx's cache (scripts/link-bin.sh, docs/dependencies.md).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist/npm-bin
printf '#!/usr/bin/env node\n// The moat command of an installed package.\nimport "../../bin/moat.js";\n' \
  >dist/npm-bin/moat
chmod 755 dist/npm-bin/moat

#!/usr/bin/env node
// Entry point of the `moat` command: the compiled CLI (npm run build, which npm ci runs).
import "../dist/src/cli/moat.js";

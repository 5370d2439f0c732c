#!/usr/bin/env bash
# Rebuild the SPA from source and fail when the committed web/dist is stale.
set -euo pipefail
cd web
if [ ! -f package.json ]; then echo "no web/package.json"; exit 1; fi
npm ci --no-audit --no-fund --loglevel=error
npm run build
npm test -- --coverage
cd ..
# npm run build regenerated src/api.gen.ts from the API document.
if [ -n "$(git status --porcelain -- web/src/api.gen.ts)" ]; then
  echo "web/src/api.gen.ts is stale: the API document changed; run 'cd web && npm run build' and commit it"
  git diff --stat -- web/src/api.gen.ts
  exit 1
fi
echo "web/src/api.gen.ts matches the API document"
if ! git diff --quiet -- web/dist || [ -n "$(git status --porcelain -- web/dist)" ]; then
  echo "web/dist is stale: run 'cd web && npm ci && npm run build' and commit the result"
  git status --porcelain -- web/dist | head -20
  exit 1
fi
echo "web/dist is up to date"

#!/usr/bin/env bash
# Rebuild the SPA from source and fail when the committed web/dist is stale.
set -euo pipefail
cd web
if [ ! -f package.json ]; then echo "no web/package.json"; exit 1; fi
npm ci --no-audit --no-fund --loglevel=error
npm run build
npm test -- --coverage
cd ..
if ! git diff --quiet -- web/dist || [ -n "$(git status --porcelain -- web/dist)" ]; then
  echo "web/dist is stale: run 'cd web && npm ci && npm run build' and commit the result"
  git status --porcelain -- web/dist | head -20
  exit 1
fi
echo "web/dist is up to date"

#!/usr/bin/env bash
# Fails when the committed generated code differs from what `buf generate` produces.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run generate --workspace @tollgate/proto >/dev/null
if ! git diff --quiet --exit-code -- packages/proto || [ -n "$(git status --porcelain -- packages/proto)" ]; then
  echo "generated code is out of date: run 'npm run generate' and commit packages/proto" >&2
  git status --short -- packages/proto >&2
  exit 1
fi
echo "generated code is up to date"

#!/usr/bin/env bash
# buf breaking against main (or BUF_AGAINST). On main itself the comparison
# is with the previous commit, so a change that lands is checked once.
set -euo pipefail
cd "$(dirname "$0")/.."
against="${BUF_AGAINST:-}"
if [ -z "$against" ]; then
  branch=$(git rev-parse --abbrev-ref HEAD)
  if [ "$branch" != "main" ] && git rev-parse --verify -q main >/dev/null; then
    against=".git#branch=main"
  elif git rev-parse --verify -q HEAD~1 >/dev/null && git ls-tree -d HEAD~1 proto >/dev/null 2>&1 && [ -n "$(git ls-tree HEAD~1 proto)" ]; then
    against=".git#ref=HEAD~1"
  else
    echo "buf breaking: no earlier contracts to compare with"
    exit 0
  fi
fi
npx buf breaking --against "$against"
echo "buf breaking: no breaking changes against $against"

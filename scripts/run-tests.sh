#!/usr/bin/env bash
# Set up (first run) and run every check: ruff, the no-Qt-in-engine contract, the test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/bootstrap.sh" test
cd "$root"
export QT_QPA_PLATFORM=offscreen
echo "==> ruff"
.venv/bin/ruff check .
echo "==> import-linter (core and server stay Qt-free)"
.venv/bin/lint-imports
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up (first run) and start ToolBox Uploader: the desktop window plus its embedded server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/bootstrap.sh" app
exec "$root/.venv/bin/toolbox-uploader" "$@"

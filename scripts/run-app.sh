#!/usr/bin/env bash
# Set up (first run) and start ToolBox Uploader: the desktop window plus its embedded server.
# Extra arguments go to `toolbox-uploader` (e.g. `gui PATHS...`, `--version`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/bootstrap.sh" app
# No display to open a window on (a server, a container, an SSH session without -X): Qt would
# abort ("could not connect to display"). Run offscreen instead: the app and its local server
# work, the window is just not visible. QT_QPA_PLATFORM chosen by the caller is kept.
if [ -z "${QT_QPA_PLATFORM:-}" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  export QT_QPA_PLATFORM=offscreen
  if [ $# -eq 0 ] || [ "$1" = gui ]; then
    echo "note: no display (DISPLAY and WAYLAND_DISPLAY are unset): the window runs offscreen;" \
         "set DISPLAY, or run under xvfb-run, to see it." >&2
  fi
fi
exec "$root/.venv/bin/toolbox-uploader" "$@"

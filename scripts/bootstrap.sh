#!/usr/bin/env bash
# Shared set-up for scripts/run-app.sh and scripts/run-tests.sh.
# Usage: bootstrap.sh app|test
#  - Debian packages: installed with apt-get when root, otherwise the exact command is printed.
#  - .venv with the project (editable) and, for "test", its test extras and the npm tus peers.
set -euo pipefail
mode=${1:-app}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-python3}
"$python" - <<'PY' || { echo "error: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2; exit 2; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

# Runtime: libmagic for content sniffing; the shared libraries Qt's xcb/offscreen platforms load.
debs=(libmagic1 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
      libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
      libxcb-randr0 libxcb-render-util0 libxcb-image0 fonts-dejavu-core)
if [ "$mode" = test ]; then
  # clamd for the virus-scanner test, appstreamcli for the metainfo check, xvfb for screenshots.
  debs+=(clamav-daemon appstream desktop-file-utils xvfb xauth)
  command -v node >/dev/null 2>&1 || debs+=(nodejs)
  command -v npm >/dev/null 2>&1 || debs+=(npm)
fi
python_venv_ok=$("$python" -c 'import ensurepip, venv' >/dev/null 2>&1 && echo yes || echo no)
[ "$python_venv_ok" = yes ] || debs+=(python3-venv)

missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Some Debian packages are missing. Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.toolbox-$mode-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$mode" = test ]; then
    .venv/bin/python -m pip install -q -e ".[test,heif]"
  else
    .venv/bin/python -m pip install -q -e ".[heif]"
  fi
  touch "$stamp"
fi

if [ "$mode" = test ] && [ -f tests/interop/package.json ]; then
  if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
    echo "==> installing the npm tus peers (tus-js-client, @tus/server)"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/interop/node_modules
  fi
fi

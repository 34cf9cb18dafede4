#!/usr/bin/env bash
# Shared set-up for scripts/run-app.sh and scripts/run-tests.sh.
# Usage: bootstrap.sh app|test
#  - Python: $PYTHON, else the first of python3, python3.13, python3.12, python3.11 that is 3.11+.
#  - Debian packages: installed with apt-get when root, otherwise the exact command is printed.
#  - .venv with the project (editable) and, for "test", its test extras and the npm tus peers.
#    A .venv that no longer runs, or was made by a Python older than 3.11, is made anew.
# A second run with nothing changed installs nothing and takes about a second.
set -euo pipefail
mode=${1:-app}
case "$mode" in
  app) command_name=scripts/run-app.sh ;;
  test) command_name=scripts/run-tests.sh ;;
  *) echo "usage: bootstrap.sh app|test" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Exit status 0 when the interpreter given is Python 3.11 or newer.
new_enough() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

if [ -n "${PYTHON:-}" ]; then
  python=$PYTHON
  if ! new_enough "$python"; then
    echo "error: PYTHON=$python is not Python 3.11 or newer" \
         "(it says: $("$python" --version 2>&1 || echo 'does not run'))." >&2
    exit 2
  fi
else
  python=
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 && new_enough "$candidate"; then
      python=$(command -v "$candidate")
      break
    fi
  done
  if [ -z "$python" ]; then
    found=$(python3 --version 2>&1 || echo "no python3")
    echo "error: Python 3.11 or newer is needed; python3 is $found and no python3.11," \
         "python3.12 or python3.13 is on PATH." >&2
    echo "Install one (on Debian 12 or later: apt-get install python3 python3-venv), or name" \
         "it: PYTHON=/path/to/python3.12 bash $command_name" >&2
    exit 2
  fi
fi
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

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
# Debian splits venv/ensurepip out of the interpreter: python3.11-venv for python3.11, and so on.
"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || debs+=("python$py_version-venv")

missing=()
for pkg in "${debs[@]}"; do
  # (A package installed for two architectures prints its status twice.)
  case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" in
    *"install ok installed"*) ;;
    *) missing+=("$pkg") ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "error: some Debian packages are missing. Install them as root (here with sudo):" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "then run this command again." >&2
    exit 2
  fi
fi

# A .venv whose interpreter is gone (Python upgraded or removed) or too old is made anew:
# its stamps go with it, so everything is installed again.
if [ -e .venv ] && ! new_enough .venv/bin/python; then
  found=$(.venv/bin/python --version 2>/dev/null || echo "its Python no longer runs")
  echo "==> .venv is not Python 3.11+ ($found): making it anew with $python ($py_version)"
  "$python" -m venv --clear .venv
elif [ ! -e .venv ]; then
  echo "==> creating .venv with $python ($py_version)"
  "$python" -m venv .venv
fi

# The test install is a superset of the app's, so either stamp will do for the app.
fresh() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
stamp=.venv/.toolbox-$mode-installed
if ! fresh "$stamp" && ! { [ "$mode" = app ] && fresh .venv/.toolbox-test-installed; }; then
  echo "==> installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$mode" = test ]; then
    .venv/bin/python -m pip install -q -e ".[test,heif]"
  else
    .venv/bin/python -m pip install -q -e ".[heif]"
  fi
  touch "$stamp"
fi

# The npm peers, exactly as tests/interop/package-lock.json pins them. npm writes
# node_modules/.package-lock.json last, so it marks a finished install; --prefer-offline lets
# a reinstall come from npm's cache without the network.
if [ "$mode" = test ] && [ -f tests/interop/package.json ]; then
  interop=tests/interop
  done_mark=$interop/node_modules/.package-lock.json
  if [ ! -f "$done_mark" ] || [ "$interop/package-lock.json" -nt "$done_mark" ] \
     || [ "$interop/package.json" -nt "$done_mark" ]; then
    echo "==> installing the npm tus peers (tus-js-client, @tus/server)"
    if ! (cd "$interop" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error); then
      echo "error: npm could not install the packages in $interop/package-lock.json" \
           "(is the npm registry reachable?). The interop tests need them." >&2
      exit 1
    fi
    touch "$done_mark"
  fi
fi

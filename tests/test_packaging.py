"""What a wheel of the project carries, what pyproject.toml declares, and what the README's two
set-up scripts do on a machine that lacks something (offline: shims stand in for apt and Python)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Built offline (no build isolation) from a copy, so the checkout stays clean."""
    tree = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    for name in ("toolbox_uploader", "resources"):
        shutil.copytree(ROOT / name, tree / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(tree)],
        check=True, capture_output=True, timeout=120,
    )
    (built,) = out.glob("toolbox_uploader-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_carries_icons_and_desktop_files(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    data = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    icons = sorted(p.name for p in (ROOT / "resources" / "icons").glob("*.svg"))
    assert icons
    for icon in icons:
        assert f"share/toolbox-uploader/resources/icons/{icon}" in data
    app = "org.toolboxuploader.ToolBoxUploader"
    assert {f"share/toolbox-uploader/resources/{app}.svg", f"share/applications/{app}.desktop",
            f"share/metainfo/{app}.metainfo.xml",
            f"share/icons/hicolor/scalable/apps/{app}.svg"} <= data


def test_wheel_carries_the_code_and_entry_points(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "toolbox_uploader/cli.py" in names and "toolbox_uploader/ui/icons.py" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "toolbox-uploader = toolbox_uploader.cli:main" in text
    assert "toolbox-uploader-gui = toolbox_uploader.cli:gui_main" in text


# --- What pyproject.toml declares --------------------------------------------------------------

#: Floors the code needs, with what needs them: lowering one breaks a fresh install that
#: happens to get that version (a distribution's package, a constraints file).
NEEDED_FLOORS = {
    "aiohttp": ("3.14", "web.RequestKey in server/auth.py and server/expect_continue.py"),
    "pytest-asyncio": ("0.24", "asyncio_default_fixture_loop_scope under --strict-config"),
}


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["test"] + extras["heif"]]


def test_declared_floors_cover_what_the_code_uses() -> None:
    by_name = {canonicalize_name(r.name): r for r in _requirements()}
    for name, (floor, why) in NEEDED_FLOORS.items():
        spec = by_name[name].specifier
        assert not spec.contains(f"{floor}.dev0", prereleases=True) and spec.contains(
            floor), f"{name} must be >= {floor} ({why}); pyproject says {spec}"
    # ruff is capped below its next minor release, which may turn on new rules.
    assert by_name["ruff"].specifier.contains("0.17.0")
    assert not by_name["ruff"].specifier.contains("0.18.0")


def test_the_tests_run_on_versions_pyproject_allows() -> None:
    for requirement in _requirements():
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{requirement.name} {installed} is installed, pyproject asks {requirement}")


# --- scripts/bootstrap.sh and scripts/run-app.sh ---------------------------------------------


def _copy_scripts(tmp_path: Path) -> Path:
    """A stand-in checkout, so that a set-up that went further than it should stays in tmp."""
    tree = tmp_path / "checkout with spaces"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for script in ("bootstrap.sh", "run-app.sh"):
        shutil.copy(ROOT / "scripts" / script, tree / "scripts" / script)
    return tree


def _shim(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _bootstrap(tree: Path, shims: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "bootstrap.sh"), "test"], capture_output=True,
        text=True, timeout=30, stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", **env},
    )


def test_bootstrap_refuses_python_older_than_3_11_clearly(tmp_path: Path) -> None:
    shims = tmp_path / "shims"
    old = _shim(shims, "python3.10", '[ "$1" = --version ] && echo "Python 3.10.13"; exit 1')
    result = _bootstrap(_copy_scripts(tmp_path), shims, PYTHON=str(old))
    assert result.returncode == 2
    assert "not Python 3.11 or newer" in result.stderr and "3.10.13" in result.stderr


def test_bootstrap_prints_the_apt_command_when_not_root(tmp_path: Path) -> None:
    shims = tmp_path / "shims"
    _shim(shims, "id", "echo 1000")
    _shim(shims, "dpkg-query", "exit 1")  # nothing installed
    tree = _copy_scripts(tmp_path)
    result = _bootstrap(tree, shims, PYTHON=sys.executable)
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("sudo apt-get update && sudo apt-get install -y --no-install-recommends libmagic1 "
            in result.stderr)
    assert "xvfb" in result.stderr
    assert not (tree / ".venv").exists()


def test_bootstrap_remakes_a_venv_of_an_old_python(tmp_path: Path) -> None:
    """A .venv left by Python 3.10 (or one whose Python was removed) is made anew with --clear."""
    shims = tmp_path / "shims"
    _shim(shims, "dpkg-query", "echo 'install ok installed'")
    calls = tmp_path / "venv-calls"
    python = _shim(shims, "python-under-test", (
        f'if [ "$1" = -m ]; then echo "$@" >> "{calls}"; exit 3; fi\n'
        f'exec "{sys.executable}" "$@"'))
    tree = _copy_scripts(tmp_path)
    _shim(tree / ".venv" / "bin", "python",
          '[ "$1" = --version ] && echo "Python 3.10.13"; exit 1')
    result = _bootstrap(tree, shims, PYTHON=str(python))
    assert "making it anew" in result.stdout, result.stdout + result.stderr
    assert calls.read_text().split() == ["-m", "venv", "--clear", ".venv"]
    assert result.returncode == 3


def _venv_is_set_up() -> bool:
    stamps = [ROOT / ".venv" / f".toolbox-{mode}-installed" for mode in ("app", "test")]
    pyproject = (ROOT / "pyproject.toml").stat().st_mtime
    return any(s.is_file() and s.stat().st_mtime >= pyproject for s in stamps)


@pytest.mark.skipif(not _venv_is_set_up(), reason="needs the .venv that scripts/ set up")
def test_run_app_without_a_display_starts_offscreen(tmp_path: Path) -> None:
    """On a machine with no display the README's app command starts, instead of Qt aborting."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["TOOLBOX_UPLOADER_HOME"] = str(home)
    app = subprocess.Popen(["bash", str(ROOT / "scripts" / "run-app.sh")], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    started = home / "data" / "server" / "last-port.json"  # the local server is up
    deadline = time.monotonic() + 25
    try:
        while not started.exists() and app.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.poll() is None, f"the app ended ({app.returncode})"
        assert started.exists()
    finally:
        app.terminate()
        _, stderr = app.communicate(timeout=15)
    assert "runs offscreen" in stderr
    assert "qt.qpa" not in stderr and "could not connect to display" not in stderr, stderr


# --- packaging/ (the PyInstaller build itself is not run here: it takes half a minute and
# needs PyInstaller) ------------------------------------------------------------------------


def test_pyinstaller_entry_lets_spawned_validation_workers_start() -> None:
    """A frozen validation worker is the executable started again with multiprocessing's own
    arguments: the entry point must hand those to freeze_support() before the CLI reads them."""
    entry = ROOT / "packaging" / "pyinstaller_main.py"
    spec = (ROOT / "packaging" / "toolbox-uploader.spec").read_text()
    assert '"packaging" / "pyinstaller_main.py"' in spec
    source = entry.read_text()
    assert 0 < source.index("multiprocessing.freeze_support()") < source.index("run_module(")
    result = subprocess.run([sys.executable, str(entry), "--version"], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("toolbox-uploader ")

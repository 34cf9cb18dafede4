"""What a wheel of the project carries: the code, and the resources a desktop install needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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

"""The .desktop entry, AppStream metainfo and icons a Linux desktop needs."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from toolbox_uploader.ui.icons import APP_ID, icon_path, resources_dir

DESKTOP = resources_dir() / f"{APP_ID}.desktop"
METAINFO = resources_dir() / f"{APP_ID}.metainfo.xml"


def test_metainfo_validates() -> None:
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == DESKTOP.name


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils is not installed")
def test_desktop_file_validates() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_file_points_at_the_app_and_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"].split()[:2] == ["toolbox-uploader", "gui"]
    assert section["Icon"] == APP_ID
    assert (resources_dir() / f"{APP_ID}.svg").is_file()


def test_every_icon_the_ui_uses_exists() -> None:
    from toolbox_uploader.ui.actions_delegate import ICON_NAMES
    from toolbox_uploader.ui.icons import _STATUS_ICONS

    names = {*ICON_NAMES.values(), *_STATUS_ICONS.values(), "status-done-notes",
             "status-warning", "drop-target", "action-add-file", "action-add-folder",
             "action-start", "action-pause-all", "action-retry-failed", "action-clear",
             "action-settings"}
    missing = sorted(n for n in names if not icon_path(n).is_file())
    assert missing == []
    for name in names:
        ET.parse(icon_path(name))  # well-formed SVG

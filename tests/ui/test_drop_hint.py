"""The drop zone says what happens to photos as the settings are now: with "Make photos
smaller" off it must not promise smaller photos. Real app and engine."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import QLabel

from toolbox_uploader.settings import Settings


def test_the_drop_zone_follows_the_photo_settings(start_app: Any) -> None:
    app = start_app(Settings(optimize_images=False))
    (hint,) = [label for label in app.window.drop_zone.findChildren(QLabel)
               if "Photos" in label.text()]
    assert "made smaller" not in hint.text()
    assert "Photos are checked and their location data removed" in hint.text()
    app.apply_settings(replace(app.settings, optimize_images=True))
    assert "Photos are checked and made smaller" in hint.text()
    app.apply_settings(replace(app.settings, optimize_images=False, strip_location=False))
    assert hint.text().endswith("Photos are checked before they are sent.")

"""Token precedence: flag > environment > keyring (file backend set up by conftest)."""

from __future__ import annotations

import pytest

from toolbox_uploader.core import credentials

URL = "http://school.example:8765"


def test_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert credentials.resolve_token(None, URL) is None
    credentials.store_token(URL + "/", "from-keyring")
    assert credentials.resolve_token(None, URL) == "from-keyring"
    monkeypatch.setenv("TOOLBOX_UPLOADER_TOKEN", "from-env")
    assert credentials.resolve_token(None, URL) == "from-env"
    assert credentials.resolve_token("from-flag", URL) == "from-flag"
    monkeypatch.delenv("TOOLBOX_UPLOADER_TOKEN")
    assert credentials.resolve_token(None, "http://other:1") is None
    credentials.delete_token(URL)
    credentials.delete_token(URL)  # deleting twice is fine
    assert credentials.resolve_token(None, URL) is None


def test_mask_never_shows_the_token() -> None:
    assert "abcdefgh" not in credentials.mask("abcdefgh1234")
    assert credentials.mask("abcdefgh1234").endswith("1234")
    assert credentials.mask(None) == "(none)"

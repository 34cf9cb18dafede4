"""The settings dialog: values, validation, and sign-in kept in the (test) keyring."""

from __future__ import annotations

import time
from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtWidgets import QStyle
from pytestqt.qtbot import QtBot

from tests.support.locked_keyring import locked_keyring
from toolbox_uploader.core import credentials
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.settings_dialog import SettingsDialog

URL = "https://files.school.example"


def _wait_status(qtbot: QtBot, dialog: SettingsDialog, text: str) -> None:
    """The keyring is asked on a worker thread: its answer arrives a moment later."""
    qtbot.waitUntil(lambda: dialog.account_status.text() == text, timeout=5000)


def test_a_keyring_waiting_to_be_unlocked_does_not_freeze_the_dialog(qtbot: QtBot) -> None:
    signed = {(credentials.SERVICE, URL): "s3cret-token-for-tests"}
    with locked_keyring(signed) as locked:
        started = time.monotonic()
        dialog = SettingsDialog(Settings(server_url=URL))
        qtbot.addWidget(dialog)
        assert time.monotonic() - started < 2  # the window was not waiting on the keyring
        assert locked.asked.wait(5)
        assert dialog.account_status.text() == "Checking the sign-in…"
        assert not dialog.sign_out_button.isEnabled()
        locked.unlocked.set()
        _wait_status(qtbot, dialog, "Signed in.")
        assert dialog.sign_out_button.isEnabled()


@pytest.mark.parametrize("action", ["sign in", "sign out"])
def test_signing_in_or_out_while_the_keyring_waits_does_not_freeze_the_dialog(
        qtbot: QtBot, action: str) -> None:
    with locked_keyring({(credentials.SERVICE, URL): "old-token-for-tests"}) as locked:
        locked.unlocked.set()  # the look-up on opening answers at once
        dialog = SettingsDialog(Settings(server_url=URL))
        qtbot.addWidget(dialog)
        dialog.show()
        _wait_status(qtbot, dialog, "Signed in.")
        locked.unlocked.clear()
        dialog.token.setText("new-token-for-tests")
        button = dialog.sign_in_button if action == "sign in" else dialog.sign_out_button
        started = time.monotonic()
        button.click()
        assert time.monotonic() - started < 1
        busy = "Signing in…" if action == "sign in" else "Signing out…"
        assert dialog.account_status.text() == busy
        assert not dialog.sign_in_button.isEnabled() and not dialog.sign_out_button.isEnabled()
        qtbot.wait(100)  # the window goes on painting meanwhile
        assert dialog.account_status.text() == busy
        done = dialog.signed_in if action == "sign in" else dialog.signed_out
        with qtbot.waitSignal(done, timeout=5000):
            locked.unlocked.set()
        expected = "new-token-for-tests" if action == "sign in" else None
        assert locked.passwords.get((credentials.SERVICE, URL)) == expected
        _wait_status(qtbot, dialog, "Signed in." if expected else "Not signed in.")
        assert dialog.sign_in_button.isEnabled()


def test_sign_in_and_out_use_the_keyring(qtbot: QtBot) -> None:
    assert "keyrings.alt" in type(keyring.get_keyring()).__module__  # never the real keychain
    dialog = SettingsDialog(Settings(server_url=URL))
    qtbot.addWidget(dialog)
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setText("  s3cret-token-for-tests  ")
    with qtbot.waitSignal(dialog.signed_in) as blocker:
        dialog.sign_in_button.click()
    assert blocker.args == [URL]
    assert keyring.get_password(credentials.SERVICE, URL) == "s3cret-token-for-tests"
    assert dialog.token.text() == ""
    _wait_status(qtbot, dialog, "Signed in.")
    assert dialog.sign_out_button.isEnabled()
    with qtbot.waitSignal(dialog.signed_out):
        dialog.sign_out_button.click()
    assert keyring.get_password(credentials.SERVICE, URL) is None
    _wait_status(qtbot, dialog, "Not signed in.")
    assert not dialog.sign_out_button.isEnabled()


def test_sign_in_without_a_token_explains(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(server_url=URL))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.sign_in_button.click()
    assert dialog.error.isVisible() and "token" in dialog.error.text()
    assert keyring.get_password(credentials.SERVICE, URL) is None


@pytest.mark.parametrize("pasted", ["s3cret token", "s3cret\ntoken", "s3cret\u2011token"])
def test_a_token_that_cannot_be_sent_is_refused(qtbot: QtBot, pasted: str) -> None:
    """A space, a line break or a typographic hyphen from a document: every request would
    fail with an encoding error, so the dialog says what is wrong and keeps nothing."""
    dialog = SettingsDialog(Settings(server_url=URL))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.token.setText(pasted)
    dialog.sign_in_button.click()
    assert dialog.error.isVisible() and "copy it again" in dialog.error.text()
    assert keyring.get_password(credentials.SERVICE, URL) is None


def test_local_server_needs_no_sign_in(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert not dialog.sign_in_button.isEnabled()
    assert "local server" in dialog.account_status.text()


def test_edited_values_come_back_validated(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.server_url.setText(" https://files.school.example/ ")
    dialog.category.setCurrentIndex(dialog.category.findData("media_resource"))
    dialog.concurrency.setValue(6)
    dialog.optimize.setChecked(False)
    assert not dialog.max_edge.isEnabled()
    dialog.quality.setValue(dialog.quality.minimum())  # "Automatic"
    dialog.bandwidth.setValue(2000)  # kB/s, as the queue shows speeds
    dialog.strip_location.setChecked(False)
    dialog.notifications.setChecked(False)
    result = dialog.settings()
    assert result == Settings(server_url=URL, default_category="media_resource", concurrency=6,
                              optimize_images=False, image_quality=None,
                              bandwidth_limit_kib=1953, strip_location=False,
                              notifications=False)


def test_a_bad_address_keeps_the_dialog_open(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server_url.setText("files dot school")
    dialog.accept()
    assert dialog.isVisible() and dialog.result() == 0
    assert "not a server address" in dialog.error.text()


def test_the_limit_is_shown_in_the_units_of_the_speeds(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(bandwidth_limit_kib=1024))  # 1,048,576 bytes a second
    qtbot.addWidget(dialog)
    assert dialog.bandwidth.text() == "1049 kB/s"
    assert dialog.settings().bandwidth_limit_kib == 1024  # unchanged when saved again
    dialog.bandwidth.setValue(0)
    assert dialog.settings().bandwidth_limit_kib is None and dialog.bandwidth.text() == "No limit"


def test_empty_fields_show_their_whole_hint(qtbot: QtBot) -> None:
    """An empty address field says what empty means; cut short, it says nothing."""
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    style = dialog.style()
    frame = style.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, dialog.server_url)
    for edit in (dialog.server_url, dialog.token):
        room = edit.contentsRect().width() - 2 * frame - 4  # QLineEdit's own 2 px a side
        assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= room


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A desktop without a usable password store: keyring's own "fail" backend."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_sign_in_and_out_without_a_keyring_explain(qtbot: QtBot, no_keyring: None) -> None:
    dialog = SettingsDialog(Settings(server_url=URL))
    qtbot.addWidget(dialog)
    dialog.show()
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setText("s3cret-token-for-tests")
    with qtbot.assertNotEmitted(dialog.signed_in, wait=300):
        dialog.sign_in_button.click()
        qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "password store" in dialog.error.text()
    assert credentials.TOKEN_ENV not in dialog.error.text()  # it would go to every server
    assert dialog.token.text() == "s3cret-token-for-tests"  # kept for another try
    assert dialog.sign_in_button.isEnabled()  # so is the button
    dialog.sign_out_button.setEnabled(True)
    with qtbot.assertNotEmitted(dialog.signed_out, wait=300):
        dialog.sign_out_button.click()
        qtbot.waitUntil(lambda: "could not be removed" in dialog.error.text(), timeout=5000)


def test_an_address_error_goes_once_the_address_changes(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server_url.setText("ftp://files.school.example")
    dialog.accept()
    assert dialog.isVisible() and dialog.error.isVisible()
    assert "not a server address" in dialog.error.text()
    dialog.server_url.setText(URL)
    assert not dialog.error.isVisible()
    dialog.accept()
    assert not dialog.isVisible() and dialog.result() == dialog.DialogCode.Accepted

"""The settings dialog: a form over ``toolbox_uploader.settings.Settings`` plus sign-in.

Sign-in keeps the token in the system keyring through ``core.credentials`` (never in the
settings file); signing out deletes it there. The local server needs no sign-in. Every
keyring call (is this address signed in? sign in, sign out) goes through ``ui.accounts``
on a worker thread: the keyring is a D-Bus round trip, and a locked one waits for its
unlock prompt, which must not freeze the window meanwhile.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from toolbox_uploader.core import credentials
from toolbox_uploader.core.categories import CATEGORIES
from toolbox_uploader.settings import (
    CONCURRENCY_RANGE,
    MAX_EDGE_RANGE,
    QUALITY_RANGE,
    Settings,
    SettingsError,
    check_server_url,
)
from toolbox_uploader.ui.accounts import Accounts

_AUTO_QUALITY = QUALITY_RANGE[0] - 1  # the spin box's "Automatic" value


def _named(widget: QWidget, name: str, description: str = "") -> QWidget:
    widget.setAccessibleName(name)
    if description:
        widget.setAccessibleDescription(description)
        widget.setToolTip(description)
    return widget


def _fit_placeholder(edit: QLineEdit) -> None:
    """Wide enough to show the whole hint: an empty field explains itself only that way."""
    probe = QLineEdit()
    probe.setTextMargins(edit.textMargins())
    # A line edit's size hint is 17 "x"s plus its frame and margins; keep those, swap the text.
    chrome = probe.sizeHint().width() - probe.fontMetrics().horizontalAdvance("x" * 17)
    text = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
    edit.setMinimumWidth(text + chrome + edit.fontMetrics().averageCharWidth())


def no_keyring_text(done: str, exc: Exception) -> str:
    """Why signing in or out did nothing: this desktop has no usable password store."""
    # Not "set TOOLBOX_UPLOADER_TOKEN": that one token would go to every server chosen later.
    return (f"The token could not be {done}: this computer has no usable password store "
            f"(keyring) for ToolBox Uploader ({type(exc).__name__}). Install or unlock one "
            "(for example GNOME Keyring or KWallet), then sign in again.")


def kib_to_kb(kib: int | None) -> int:
    """A stored limit (KiB/s, None = none) as the dialog shows it (kB/s, 0 = none)."""
    return round(kib * 1.024) if kib else 0


def kb_to_kib(kb: int) -> int | None:
    return max(1, round(kb / 1.024)) if kb else None


class SettingsDialog(QDialog):
    """Signals: ``signed_in(str server_url)``, ``signed_out(str server_url)`` once a sign-in
    or sign-out pressed here is done. The app listens to its ``Accounts`` instead, which
    outlives the dialog."""

    signed_in = Signal(str)
    signed_out = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None, *,
                 accounts: Accounts | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings
        self.accounts = accounts or Accounts(self)
        self._looking_up = 0  # the ticket of the look-up whose answer is awaited
        # The address a sign-in or sign-out pressed here is changing, and the token sent
        # (None: a sign-out). What the status line says comes from ``accounts``, which also
        # knows the changes pressed in a dialog closed since.
        self._changing: tuple[str, str | None] | None = None
        self.accounts.found.connect(self._show_account)
        self.accounts.signed_in.connect(self._on_signed_in)
        self.accounts.signed_out.connect(self._on_signed_out)
        self.accounts.not_kept.connect(self._on_not_kept)

        self.server_url = QLineEdit(settings.server_url, self)
        self.server_url.setPlaceholderText("Empty: keep files on this computer (local server)")
        _named(self.server_url, "Server address",
               "The school server's address, e.g. https://files.myschool.org")
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Access token from your school")
        _fit_placeholder(self.server_url)
        _fit_placeholder(self.token)
        _named(self.token, "Access token")
        self.sign_in_button = QPushButton("Sign in", self)
        _named(self.sign_in_button, "Sign in")
        self.sign_out_button = QPushButton("Sign out", self)
        _named(self.sign_out_button, "Sign out")
        self.account_status = QLabel(self)
        self.account_status.setWordWrap(True)
        self.sign_in_button.clicked.connect(self.on_sign_in)
        self.sign_out_button.clicked.connect(self.on_sign_out)
        # Enabling buttons follows every keystroke; the keyring is asked only once the
        # address is complete (it may be a D-Bus round trip).
        self.server_url.textChanged.connect(lambda _text: self._refresh_account(lookup=False))
        self.server_url.editingFinished.connect(self._refresh_account)

        self.category = QComboBox(self)
        for name, category in CATEGORIES.items():
            self.category.addItem(category.label, name)
        self.category.setCurrentIndex(max(0, self.category.findData(settings.default_category)))
        _named(self.category, "Default category", "Category given to newly added files")
        self.concurrency = QSpinBox(self)
        self.concurrency.setRange(*CONCURRENCY_RANGE)
        self.concurrency.setValue(settings.concurrency)
        _named(self.concurrency, "Uploads at the same time")

        self.optimize = QCheckBox("Make photos smaller before uploading", self)
        self.optimize.setChecked(settings.optimize_images)
        _named(self.optimize, "Optimize images")
        self.max_edge = QSpinBox(self)
        self.max_edge.setRange(*MAX_EDGE_RANGE)
        self.max_edge.setSingleStep(160)
        self.max_edge.setSuffix(" px")
        self.max_edge.setValue(settings.max_image_edge)
        _named(self.max_edge, "Longest photo edge")
        self.quality = QSpinBox(self)
        self.quality.setRange(_AUTO_QUALITY, QUALITY_RANGE[1])
        self.quality.setSpecialValueText("Automatic")
        self.quality.setValue(settings.image_quality or _AUTO_QUALITY)
        _named(self.quality, "Photo quality", "JPEG/WebP quality; Automatic picks per photo")
        self.optimize.toggled.connect(self.max_edge.setEnabled)
        self.optimize.toggled.connect(self.quality.setEnabled)
        self.max_edge.setEnabled(settings.optimize_images)
        self.quality.setEnabled(settings.optimize_images)
        self.strip_location = QCheckBox("Remove location data from photos", self)
        self.strip_location.setChecked(settings.strip_location)
        _named(self.strip_location, "Remove location data")

        self.bandwidth = QSpinBox(self)
        self.bandwidth.setRange(0, 1_000_000)
        self.bandwidth.setSingleStep(250)
        # Shown in kB/s (1000 bytes), the unit of the speeds in the queue, so that a row
        # never seems to go faster than the limit; kept in KiB/s in the settings file.
        self.bandwidth.setSuffix(" kB/s")
        self.bandwidth.setSpecialValueText("No limit")
        self.bandwidth.setValue(kib_to_kb(settings.bandwidth_limit_kib))
        _named(self.bandwidth, "Bandwidth limit", "Upper limit for all uploads together")
        self.auto_resume = QCheckBox("Carry on unfinished uploads when the app starts", self)
        self.auto_resume.setChecked(settings.auto_resume)
        _named(self.auto_resume, "Resume automatically")
        self.keep_in_tray = QCheckBox("Keep uploading in the tray when the window is closed",
                                      self)
        self.keep_in_tray.setChecked(settings.keep_running_in_tray)
        _named(self.keep_in_tray, "Keep running in tray")
        self.notifications = QCheckBox("Tell me when uploads finish or fail", self)
        self.notifications.setChecked(settings.notifications)
        _named(self.notifications, "Notifications")

        self.error = QLabel(self)
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        self.error.hide()
        # An error about the address (or sign-in) no longer holds once the address changes;
        # it is checked again on OK.
        self.server_url.textChanged.connect(self.error.hide)

        server_box = QGroupBox("Server", self)
        server_form = QFormLayout(server_box)
        server_form.addRow("Address:", self.server_url)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.sign_in_button)
        token_row.addWidget(self.sign_out_button)
        server_form.addRow("Sign in:", token_row)
        server_form.addRow("", self.account_status)

        upload_box = QGroupBox("Uploads", self)
        upload_form = QFormLayout(upload_box)
        upload_form.addRow("Default category:", self.category)
        upload_form.addRow("Uploads at once:", self.concurrency)
        upload_form.addRow("Bandwidth limit:", self.bandwidth)
        upload_form.addRow(self.auto_resume)

        photo_box = QGroupBox("Photos", self)
        photo_form = QFormLayout(photo_box)
        photo_form.addRow(self.optimize)
        photo_form.addRow("Longest edge:", self.max_edge)
        photo_form.addRow("Quality:", self.quality)
        photo_form.addRow(self.strip_location)

        app_box = QGroupBox("App", self)
        app_form = QFormLayout(app_box)
        app_form.addRow(self.keep_in_tray)
        app_form.addRow(self.notifications)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for box in (server_box, upload_box, photo_box, app_box):
            layout.addWidget(box)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._refresh_account()

    # ------------------------------------------------------------------ account
    def _url_or_error(self) -> str | None:
        try:
            url = check_server_url(self.server_url.text())
        except SettingsError as exc:
            self._show_error(str(exc))
            return None
        self.error.hide()
        return url

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _shown_url(self) -> str | None:
        """The address in the field, checked; None while it is not a valid one."""
        try:
            return check_server_url(self.server_url.text())
        except SettingsError:
            return None

    def _refresh_account(self, lookup: bool = True) -> None:
        url = self._shown_url()
        for widget in (self.token, self.sign_in_button, self.sign_out_button):
            widget.setEnabled(bool(url))
        self._looking_up = 0  # an answer still on its way is for an earlier question
        pending = self.accounts.changing(url) if url else None
        if pending is not None:  # its end refreshes this line
            self.account_status.setText("Signing in…" if pending == "kept" else "Signing out…")
            self.sign_in_button.setEnabled(False)
            self.sign_out_button.setEnabled(False)
        elif url == "":
            self.account_status.setText("The local server signs you in automatically.")
        elif url is None:
            self.account_status.setText("Enter a valid server address to sign in.")
        elif lookup:
            self.account_status.setText("Checking the sign-in…")
            self.sign_out_button.setEnabled(False)
            self._looking_up = self.accounts.look_up(url)
        else:
            self.account_status.setText("")

    def _show_account(self, ticket: int, _url: str, token: str | None) -> None:
        if ticket != self._looking_up:
            return  # the answer for an address edited since, or to another window
        self._looking_up = 0
        self.account_status.setText("Signed in." if token else "Not signed in.")
        self.sign_out_button.setEnabled(token is not None)

    def on_sign_in(self) -> None:
        url = self._url_or_error()
        token = self.token.text().strip()
        if not url:
            return
        if not token:
            self._show_error("Paste the access token your school gave you, then press Sign in.")
            return
        problem = credentials.token_problem(token)
        if problem is not None:
            self._show_error(problem)
            return
        self._changing = (url, token)
        self.accounts.sign_in(url, token)
        self._refresh_account(lookup=False)

    def on_sign_out(self) -> None:
        url = self._url_or_error()
        if not url:
            return
        self._changing = (url, None)
        self.accounts.sign_out(url)
        self._refresh_account(lookup=False)

    def _done_changing(self, url: str) -> tuple[bool, str | None]:
        """Was ``url`` the address this dialog was signing in or out, and with which token?"""
        if self._changing is None or url != self._changing[0]:
            return False, None
        sent = self._changing[1]
        self._changing = None
        return True, sent

    def _settled(self, url: str) -> None:
        """A change of ``url`` ended (pressed here or in a dialog closed since): the line
        about the address shown is asked again, never left at a stale answer."""
        if url == self._shown_url():
            self._refresh_account()

    def _on_signed_in(self, url: str) -> None:
        mine, sent = self._done_changing(url)
        if mine and sent is not None and self.token.text().strip() == sent:
            self.token.clear()  # a token typed since for another address stays
        self._settled(url)
        if mine:
            self.signed_in.emit(url)

    def _on_signed_out(self, url: str) -> None:
        mine, _sent = self._done_changing(url)
        self._settled(url)
        if mine:
            self.signed_out.emit(url)

    def _on_not_kept(self, url: str, action: str, error: Exception) -> None:
        mine, _sent = self._done_changing(url)
        self._settled(url)
        if mine:
            text = no_keyring_text(action, error)
            if url != self._shown_url():  # the address was edited since: say which one
                text = f"{url}: {text}"
            self._show_error(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter in the token field signs in. Otherwise the dialog's default button (OK)
        would save and close, dropping the pasted token: the teacher believes they are
        signed in, and the uploads wait for a sign-in."""
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and self.token.hasFocus() and self.token.text().strip():
            if self.sign_in_button.isEnabled():
                self.on_sign_in()
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ result
    def settings(self) -> Settings:
        """The edited settings (raises ``SettingsError`` for an invalid server address)."""
        quality = self.quality.value()
        return replace(
            self._original,
            server_url=check_server_url(self.server_url.text()),
            default_category=self.category.currentData(),
            concurrency=self.concurrency.value(),
            optimize_images=self.optimize.isChecked(),
            max_image_edge=self.max_edge.value(),
            image_quality=None if quality == _AUTO_QUALITY else quality,
            strip_location=self.strip_location.isChecked(),
            bandwidth_limit_kib=kb_to_kib(self.bandwidth.value()),
            auto_resume=self.auto_resume.isChecked(),
            keep_running_in_tray=self.keep_in_tray.isChecked(),
            notifications=self.notifications.isChecked(),
            warnings=(),
        ).validated()

    def accept(self) -> None:
        try:
            self.settings()
        except SettingsError as exc:
            self._show_error(str(exc))
            return
        super().accept()

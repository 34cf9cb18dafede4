"""The full story of one file: why it was refused or failed, what will change, where it went."""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import formatting as fmt

_HEADLINES: dict[ItemState, str] = {
    ItemState.REJECTED: "This file was not accepted",
    ItemState.FAILED: "This file could not be uploaded",
    ItemState.DONE: "This file is on the server",
    ItemState.CANCELLED: "This upload was cancelled",
    ItemState.PAUSED: "This upload is paused",
}


def report_text(item: ItemSnapshot, awaited_server: str | None = None, *,
                link_works: bool = True) -> str:
    """The report as plain text (what "Copy report" puts on the clipboard); it says what
    the dialog says (``awaited_server`` and ``link_works`` as for ``report_html``)."""
    lines = [
        f"File: {item.relative_path}",
        f"From: {item.source_path}",
        f"Category: {fmt.category_label(item.category)} ({item.category})",
        f"Size: {fmt.human_size(item.size)}",
        f"Status: {fmt.status_text(item) if awaited_server is None else WAITING_FOR_SERVER}",
    ]
    if item.optimized_size is not None:
        lines.append(f"After optimization: {fmt.human_size(item.optimized_size)}")
    if awaited_server is not None:  # its last failure and countdown are history
        lines.append(f"Waiting for: {awaited_server} (sent there when that server is "
                     "chosen again in Settings)")
    elif item.reason is not None:
        lines.append(f"Reason: {fmt.reason_text(item)} [{item.reason.code}]")
    lines.extend(f"Note: {w.message} [{w.code}]" for w in fmt.notes(item))
    if item.attempts:
        lines.append(f"Attempts: {item.attempts}")
    if item.next_attempt_at is not None and awaited_server is None:
        when = dt.datetime.fromtimestamp(item.next_attempt_at).strftime("%H:%M:%S")
        lines.append(f"Next automatic try: {when}")
    if item.file_url:
        lines.append(f"{_link_label(item)}: {item.file_url}")
        if not link_works:
            lines.append(f"Note: {DEAD_LINK_NOTE}")
    if item.server:
        lines.append(f"Server: {item.server}")
    return "\n".join(lines)


#: The headline of a report whose row was removed from the queue while it was open.
REMOVED_HEADLINE = "Removed from the queue"
#: The status of a row whose server is not the chosen one (as the queue's status column).
WAITING_FOR_SERVER = "Waiting for its server"
#: Why a done row of the built-in server offers no link while a school server is chosen.
DEAD_LINK_NOTE = ("This link works while the built-in server is chosen in Settings; it is "
                  "not running now.")


def report_html(item: ItemSnapshot, awaited_server: str | None = None, *,
                link_works: bool = True) -> str:
    """``awaited_server``: the server the row waits for, when it is not the chosen one
    (its last failure and countdown are history then, and Retry would change nothing).
    ``link_works``: False while the row's link leads nowhere (``QueueModel.link_works``)."""
    esc = html.escape
    rows = [
        ("File", item.relative_path),
        ("From", item.source_path),
        ("Category", fmt.category_label(item.category)),
        ("Size", fmt.human_size(item.size)),
        ("Status", fmt.status_text(item) if awaited_server is None
         else WAITING_FOR_SERVER),
    ]
    if item.optimized_size is not None:
        rows.append(("After optimization", fmt.human_size(item.optimized_size)))
    if item.attempts:
        rows.append(("Attempts", str(item.attempts)))
    if item.file_url:
        rows.append((_link_label(item), item.file_url))
    parts = ["<table cellspacing='4'>"]
    parts += [f"<tr><td><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    if item.file_url and not link_works:
        parts.append(f"<p>{esc(DEAD_LINK_NOTE)}</p>")
    if awaited_server is not None:
        parts.append(f"<h3>Why</h3><p>It is sent to {esc(awaited_server)} when that server is "
                     "chosen again in Settings; nothing is sent elsewhere meanwhile.</p>")
    elif item.reason is not None:
        parts.append(f"<h3>Why</h3><p>{esc(fmt.reason_text(item))}</p>"
                     f"<p><small>Code: {esc(item.reason.code)}</small></p>")
        if item.state is ItemState.REJECTED:
            parts.append(f"<p>{esc(refusal_advice(item.reason.code))}</p>")
        elif item.state is ItemState.FAILED and item.next_attempt_at is not None:
            parts.append("<p>Nothing to do: it is tried again by itself. Press <b>Retry</b> "
                         "to try now.</p>")
        elif item.state is ItemState.PAUSED:  # its button is Resume, not Retry
            parts.append(f"<p>{paused_advice(item.reason.code)}</p>")
        elif item.retryable or item.state is ItemState.FAILED:
            parts.append("<p>Press <b>Retry</b> to try again.</p>")
    notes = fmt.notes(item)
    if notes:
        parts.append("<h3>Good to know</h3><ul>")
        parts += [f"<li>{esc(w.message)}</li>" for w in notes]
        parts.append("</ul>")
    return "".join(parts)


def paused_advice(code: str) -> str:
    """What carries a paused upload on (HTML). Paused for sign-in, the engine resumes it by
    itself once the teacher signs in."""
    if code == "sign_in_needed":
        return ("Sign in to the server (Settings, then <b>Sign in</b>): the upload then "
                "carries on by itself.")
    return "Press <b>Resume</b> to carry on."


#: Refusals that depend on the category: another one may take the file.
_CATEGORY_BOUND = frozenset({"too_large", "type_not_allowed", "script_content"})


def refusal_advice(code: str) -> str:
    """What the teacher can do about a refusal; a category change only where it can help."""
    if code in _CATEGORY_BOUND:
        return ("You can choose another category for this row (double-click its category, "
                "or right-click the selected rows to change several), or fix the file and "
                "add it again.")
    if code in ("executable_content", "executable_extension", "virus_found"):
        return "Files like this are never uploaded, whatever the category."
    if code == "empty_file":
        return "Check that the file was saved completely, then add it again."
    return "Fix the file (or its name) and add it again."


def _link_label(item: ItemSnapshot) -> str:
    """A link that no longer leads anywhere is not where the file is."""
    return "Was on the server" if item.removed_from_server else "On the server"


def headline_text(item: ItemSnapshot, awaited_server: str | None = None) -> str:
    if awaited_server is not None:
        return f"Waiting for {awaited_server}"
    if item.removed_from_server:  # done once, but not "on the server" any more
        return "This file was deleted on the server"
    if item.state is ItemState.DONE and fmt.already_uploaded(item):
        return "This file was already on the server"
    if item.state is ItemState.FAILED and item.next_attempt_at is not None:
        return "Not sent yet: it will be tried again by itself"
    return _HEADLINES.get(item.state, fmt.status_text(item))


class DetailsDialog(QDialog):
    """One file's report; ``set_item`` keeps it current while it stays open (the window
    passes on the item's later snapshots), so a row that finishes meanwhile shows its link."""

    def __init__(self, item: ItemSnapshot, parent: QWidget | None = None,
                 awaited_server: str | None = None, *, link_works: bool = True) -> None:
        super().__init__(parent)
        self.item = item
        self.removed = False  # the row left the queue: this is what it last was
        self.resize(560, 420)
        self.headline = QLabel(self)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.headline.setFont(font)
        self.browser = QTextBrowser(self)
        self.browser.setAccessibleName("Report")
        self.browser.setOpenExternalLinks(False)
        self._html = ""
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = QPushButton("Copy report", self)
        copy.setAccessibleName("Copy report")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.set_item(item, awaited_server, link_works=link_works)

    def set_item(self, item: ItemSnapshot, awaited_server: str | None = None, *,
                 link_works: bool = True) -> None:
        """Show a newer snapshot of the file (``awaited_server``, ``link_works`` as for
        ``report_html``).
        The report is only set again when its text changed (progress alone does not change
        it), keeping the reader's scroll position."""
        self.item = item
        self.awaited_server = awaited_server
        self.link_works = link_works
        self.setWindowTitle(f"Details — {item.display_name}")
        self.headline.setText(headline_text(item, awaited_server))
        html_text = report_html(item, awaited_server, link_works=link_works)
        if html_text != self._html:
            self._html = html_text
            scroll = self.browser.verticalScrollBar()
            position = scroll.value()
            self.browser.setHtml(html_text)
            scroll.setValue(position)

    def mark_removed(self) -> None:
        """The row left the queue (removed, or cleared as finished): the report stays to
        read and copy, as it last was, under a headline that says so."""
        self.removed = True
        self.headline.setText(REMOVED_HEADLINE)
        self.setWindowTitle(f"Details — {self.item.display_name} (removed from the queue)")

    def copy_report(self) -> None:
        text = report_text(self.item, self.awaited_server, link_works=self.link_works)
        if self.removed:
            text = f"{REMOVED_HEADLINE}.\n{text}"
        QGuiApplication.clipboard().setText(text)

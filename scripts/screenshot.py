"""Render the main window with a realistic queue to ``docs/screenshot.png``.

Runs offscreen (no display needed): ``.venv/bin/python scripts/screenshot.py [OUT.png]``.
The queue is fed to the model as engine snapshots (done, uploading, paused, failed, refused
rows) so the picture does not depend on network timing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "TOOLBOX_UPLOADER_HOME" not in os.environ:  # a throw-away home, removed at exit
    os.environ["TOOLBOX_UPLOADER_HOME"] = _home = tempfile.mkdtemp(prefix="toolbox-shot-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QCursor, QFont
from PySide6.QtWidgets import QApplication, QToolButton

from toolbox_uploader.core.events import BatchProgress, ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow

MB = 1_000_000
S = ItemState
HOME = "/home/ms.rivera/Documents/Year 7 Science"


def item(n: int, rel: str, size: int, state: ItemState, sent: int = 0,
         **kw: object) -> ItemSnapshot:
    category = str(kw.pop("category", "educational_content"))
    return ItemSnapshot(
        id=n, source_path=f"{HOME}/{rel}", relative_path=f"Year 7 Science/{rel}",
        display_name=rel.rsplit("/", 1)[-1], category=category,
        size=size, state=state, bytes_sent=sent, server="local", **kw,  # type: ignore[arg-type]
    )


def queue() -> list[ItemSnapshot]:
    location = Reason("location_removed", "Location data will be removed from this photo.")
    return [
        item(1, "Week 1/Lesson plan - cells.pdf", int(2.4 * MB), S.DONE, int(2.4 * MB),
             file_url="http://127.0.0.1:8765/api/v1/files/1"),
        item(2, "Week 1/Worksheet - plant and animal cells.docx", int(0.8 * MB), S.DONE,
             int(0.8 * MB), file_url="http://127.0.0.1:8765/api/v1/files/2"),
        item(3, "Week 1/Field trip/IMG_2041.jpg", int(4.2 * MB), S.DONE, int(0.9 * MB),
             optimized_size=int(0.9 * MB), warnings=(location,), category="media_resource",
             file_url="http://127.0.0.1:8765/api/v1/files/3"),
        item(4, "Week 2/Microscope demo.mp4", 1_840 * MB, S.UPLOADING, 771 * MB,
             speed=6.2 * MB, eta=172, category="media_resource"),
        item(5, "Week 2/Slides - mitosis.pptx", 38 * MB, S.UPLOADING, 25 * MB, speed=3.1 * MB,
             eta=4),
        item(6, "Week 2/Quiz - cell parts.xlsx", int(0.2 * MB), S.READY, category="assessment"),
        item(7, "Week 2/Field trip/IMG_2077.jpg", int(5.1 * MB), S.OPTIMIZING,
             category="media_resource", warnings=(location,)),
        item(8, "Week 3/Documentary clip.mov", 910 * MB, S.PAUSED, 402 * MB,
             category="media_resource"),
        item(9, "Week 3/Reading - the cell theory.pdf", 12 * MB, S.FAILED, 3 * MB,
             reason=Reason("server_unreachable",
                           "The server could not be reached. It will be tried again."),
             next_attempt_at=time.time() + 40, retryable=True, attempts=2),
        item(10, "Week 3/setup_virtual_lab.exe", int(48 * MB), S.REJECTED,
             reason=Reason("executable", "Programs cannot be uploaded: this file is an "
                           "executable (application/x-dosexec).")),
        item(11, "Week 3/Answer key.docm", int(0.3 * MB), S.REJECTED,
             reason=Reason("macros", "Documents with macros are not allowed in teaching "
                           "material.")),
        item(12, "Week 4/Homework - label the cell.pdf", int(1.1 * MB), S.QUEUED),
    ]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parents[1] / "docs" / "screenshot.png")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setFont(QFont("DejaVu Sans", 9))
    bridge = EngineBridge()
    window = MainWindow(bridge)
    window.resize(1240, 700)
    window.set_server_text(
        "Local server — files kept in /home/ms.rivera/.local/share/toolbox-uploader/server")
    items = queue()
    # The video was half-sent before a restart (its row says where it resumed); the slides
    # started in this run.
    window.model.add_items([replace(i, bytes_sent=0) if i.id == 5 else i for i in items])
    window.model.update_items([i for i in items if i.id == 5])
    total = sum(i.size or 0 for i in items if i.state is not S.REJECTED)
    sent = sum(i.bytes_sent for i in items if i.state is not S.REJECTED)
    window.on_batch_progress(BatchProgress(
        files_total=len(items), files_done=3, files_failed=3, bytes_total=total,
        bytes_done=sent, speed=9.3 * MB, eta=(total - sent) / (9.3 * MB)))
    window.show()
    window.select_item(5)
    window.activateWindow()
    app.processEvents()
    window.view.setFocus()
    # The offscreen cursor sits at (0, 0), over the first toolbar button: no hover there.
    QCursor.setPos(window.mapToGlobal(window.rect().bottomRight()) + QPoint(50, 50))
    for button in window.toolbar.findChildren(QToolButton):
        button.setAttribute(Qt.WidgetAttribute.WA_UnderMouse, False)
        button.update()
    for _ in range(5):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    pixmap = window.grab()
    if not pixmap.save(str(out)):
        print(f"could not write {out}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({pixmap.width()}x{pixmap.height()})")
    window.ask_on_close = lambda: CloseChoice.QUIT  # no "keep uploading?" question
    window.close()
    # Deleted here, children before the application: left to the interpreter's last
    # garbage collection, Qt objects went in any order (a double free at exit).
    window.deleteLater()
    bridge.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return 0


if __name__ == "__main__":
    sys.exit(main())

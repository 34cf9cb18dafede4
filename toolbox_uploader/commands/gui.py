"""``toolbox-uploader gui [PATHS...] [--server URL] [--category C]``: open the desktop app.

Also what runs with no sub-command, and how a file manager's "Open with" hands files over:
when the app is already open, the paths go to that window and this process exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from toolbox_uploader.core.categories import CATEGORIES

    parser = subparsers.add_parser(
        "gui",
        help="open the upload window (the default)",
        description="Open the upload window, with PATHS queued. With no server configured, "
                    "files go to a local server on this computer.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATHS",
                        help="files or folders to queue")
    parser.add_argument("--server", metavar="URL",
                        help="upload to this toolbox server for this run "
                             "(default: the one in Settings, or the local server)")
    parser.add_argument("--category", choices=sorted(CATEGORIES), metavar="C",
                        help="category for the given paths; one of: "
                             + ", ".join(sorted(CATEGORIES)))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.settings import SettingsError, check_server_url

    server = None
    if args.server is not None:
        try:
            server = check_server_url(args.server) or None
        except SettingsError as exc:
            raise UsageError(str(exc)) from None
    missing = _no_display()
    if missing is not None:
        print(f"toolbox-uploader gui: {missing}", file=sys.stderr)
        return 1
    from toolbox_uploader.ui.app import run as run_app

    return run_app([Path(p) for p in args.paths], server_url=server, category=args.category)


def _no_display() -> str | None:
    """Why no window can open here, or None. Without a display Qt aborts the process
    ("could not connect to display", exit 134): a server, a container, SSH without -X."""
    if not sys.platform.startswith("linux") or any(
            os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return None
    return ("there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
            "unset): run it in a desktop session, under xvfb-run, or with "
            "QT_QPA_PLATFORM=offscreen (scripts/run-app.sh does that)")

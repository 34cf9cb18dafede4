"""``toolbox-uploader``: the GUI by default, plus the sub-commands listed in ``COMMAND_MODULES``.

Each sub-command lives in its own module under ``toolbox_uploader.commands`` and exposes
``register(subparsers)``; heavy imports (Qt, aiohttp, Pillow) happen inside the command's
``run`` so that ``toolbox-uploader validate`` does not pay for Qt.

Exit codes shared by every command: 0 success, 1 something failed or was refused,
2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from toolbox_uploader import __version__
from toolbox_uploader.commands.closable_stdout import ClosableStdout
from toolbox_uploader.core.sqlite_db import StoreFailure

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("gui", "serve", "user", "validate", "upload", "queue")


class UsageError(Exception):
    """A problem with the command line itself: printed as ``error: ...``, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolbox-uploader",
        description="Check, shrink and resumably upload teaching materials to a school server.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: list[str] = []
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"toolbox_uploader.commands.{name}")
        except ModuleNotFoundError as exc:  # a command still being written
            if exc.name != f"toolbox_uploader.commands.{name}":
                raise
            continue
        module.register(sub)
        registered.append(name)
    parser.set_defaults(registered=registered)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        if "gui" not in args.registered:
            parser.print_help()
            return EXIT_USAGE
        args = parser.parse_args(["gui"])
    stdout = sys.stdout
    closable = None if stdout is None else ClosableStdout(stdout)
    if closable is not None:  # ``... | head -1`` must not fail a good run
        sys.stdout = closable  # type: ignore[assignment]
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"toolbox-uploader {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError as exc:
        if closable is None or not closable.reader_gone():
            # Another pipe (a worker pool that could not start): an error like any other.
            print(f"toolbox-uploader {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        # The reader went away (``... --json | head -1``): stop quietly, and keep Python's
        # own flush at exit from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return EXIT_FAILED
    except (OSError, StoreFailure) as exc:
        # The app's folders or its store cannot be used (a file where a folder should be,
        # a disk full, a damaged database): one line, not a traceback.
        print(f"toolbox-uploader {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if closable is not None:
            closable.flush()
            sys.stdout = stdout


def gui_main() -> int:
    """Entry point of the ``toolbox-uploader-gui`` launcher (no console window on Windows)."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())

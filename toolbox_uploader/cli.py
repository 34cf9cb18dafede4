"""``toolbox-uploader``: the GUI by default, plus the sub-commands listed in ``COMMAND_MODULES``.

Each sub-command lives in its own module under ``toolbox_uploader.commands`` and exposes
``register(subparsers)``; heavy imports (Qt, aiohttp, Pillow) happen inside the command's
``run`` so that ``toolbox-uploader validate`` does not pay for Qt.

Exit codes shared by every command: 0 success, 1 something failed or was refused,
2 usage error, 130 interrupted (Ctrl+C, SIGTERM or SIGHUP).

Only the standard library is imported at module level: the console script imports this
module before ``main`` can catch a Ctrl+C, so everything heavier is imported inside it.
"""

from __future__ import annotations

import sys

#: ``typing`` itself is not imported: every module loaded before ``main`` runs widens the
#: moment in which a Ctrl+C still ends in a traceback (type checkers know this name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from types import FrameType
    from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: How soon a Ctrl+C that Python dropped (see ``_ctrl_c_kept_from``) is delivered again.
_CTRL_C_AGAIN_AFTER = 0.02

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("gui", "serve", "user", "validate", "upload", "queue")


class UsageError(Exception):
    """A problem with the command line itself: printed as ``error: ...``, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    import argparse
    import importlib

    from toolbox_uploader import __version__

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


class _StopSignals:
    """SIGTERM and SIGHUP (``timeout``, systemd, a closed SSH session) stop a command the
    way Ctrl+C does, so its work is saved as resumable instead of the process just dying.

    The handler hands the signal to whatever handles SIGINT at that moment (``asyncio.run``
    cancels its task, the default raises ``KeyboardInterrupt`` in the main thread). A signal
    the parent set to be ignored (``nohup``) stays ignored; a repeat while the stop is under
    way is dropped, so it cannot cut the saving short (SIGKILL still ends it at once)."""

    def __init__(self) -> None:
        self._installed: list[int] = []
        self._stopping = False

    def install(self) -> None:
        import signal

        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)  # no SIGHUP on Windows
            if number is None or signal.getsignal(number) is not signal.SIG_DFL:
                continue
            try:
                signal.signal(number, self._as_ctrl_c)
            except ValueError:  # not the main thread (an embedding caller): leave them
                return
            self._installed.append(number)

    def restore(self) -> None:
        import signal

        for number in self._installed:
            signal.signal(number, signal.SIG_DFL)
        self._installed.clear()

    def _as_ctrl_c(self, _signum: int, frame: FrameType | None) -> None:
        import signal

        if self._stopping:
            return
        self._stopping = True
        ctrl_c = signal.getsignal(signal.SIGINT)
        if callable(ctrl_c):
            ctrl_c(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt  # SIGINT ignored (a background job): stop all the same


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; Ctrl+C at any moment, even while modules are still being
    imported, ends with "interrupted" and exit code 130, never a traceback."""
    stop_signals = _StopSignals()
    unraisable_hook = sys.unraisablehook
    try:
        try:
            sys.unraisablehook = _ctrl_c_kept_from(unraisable_hook)
            stop_signals.install()
            return _run(argv, stop_signals)
        finally:
            if argv is None:  # the process's own command line: it ends once we return
                _ignore_stop_signals_while_exiting()  # in place of ours, too
            else:
                stop_signals.restore()
            sys.unraisablehook = unraisable_hook
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not interrupted_by_ctrl_c(exc):
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _ctrl_c_kept_from(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """``sys.unraisablehook`` that hands a Ctrl+C back to the main thread.

    A ``KeyboardInterrupt`` that lands in a finalizer, a weakref callback or a ``gc``
    callback (importlib drops its module locks that way, many times while a command
    imports its modules) cannot propagate: Python printed "Exception ignored in ..." with
    a traceback and the command went on to exit 0. ``interrupt_main`` delivers it again,
    to whatever handles SIGINT at that moment (``asyncio.run`` cancels its task), from a
    moment later on another thread: raised inside this hook, it would be dropped again."""

    def keep(unraisable: Any) -> object:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type,
                                                          KeyboardInterrupt):
            import _thread
            import threading

            again = threading.Timer(_CTRL_C_AGAIN_AFTER, _thread.interrupt_main)
            again.daemon = True
            again.start()
            return None
        return hook(unraisable)

    return keep


def _ignore_stop_signals_while_exiting() -> None:
    """Ctrl+C, SIGTERM and SIGHUP are ignored from here to the end of the process.

    The command is over (its outcome printed, its work saved), but the interpreter still
    takes 0.2-0.3 s to exit with some 700 modules loaded, and it puts back the default
    handlers before that teardown: a Ctrl+C then killed the process by SIGINT (-2, no
    message) instead of letting it end with the command's exit code. Only ``SIG_IGN``
    survives the teardown. A signal that comes before this point still ends the command
    with 130 ("interrupted"); ``signal.signal`` runs the pending handlers first."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)  # no SIGHUP on Windows
        if number is not None:
            signal.signal(number, signal.SIG_IGN)


def interrupted_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` stands for a Ctrl+C: Python wraps what a class body's
    ``__set_name__`` raises (a dataclass being defined while a module is imported) in a
    ``RuntimeError``, so a Ctrl+C at that moment arrives disguised."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _run(argv: Sequence[str] | None, stop_signals: _StopSignals) -> int:
    import os

    from toolbox_uploader.commands.closable_stdout import ClosableStdout
    from toolbox_uploader.core.sqlite_db import StoreFailure

    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        if "gui" not in args.registered:
            parser.print_help()
            return EXIT_USAGE
        args = parser.parse_args(["gui"])
    if args.command == "gui":
        stop_signals.restore()  # the window has its own shutdown (and the tray)
    stdout = sys.stdout
    errors = _never_strict(stdout)
    closable = None if stdout is None else ClosableStdout(stdout)
    if closable is not None:  # ``... | head -1`` must not fail a good run
        sys.stdout = closable  # type: ignore[assignment]
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"toolbox-uploader {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
        if errors is not None:  # a caller's own stream (``main`` called in-process)
            import contextlib

            with contextlib.suppress(ValueError, OSError):
                stdout.reconfigure(errors=errors)  # type: ignore[union-attr]


def _never_strict(stdout: Any) -> str | None:
    """Let standard output print any name, whatever its encoding: what it cannot encode is
    written as ``\\xfc`` (as Python does on stderr) instead of ending the command with a
    ``UnicodeEncodeError`` traceback (``PYTHONIOENCODING=ascii``, a Latin-1 locale). Returns
    the error handler to put back, or None when nothing was changed."""
    errors = getattr(stdout, "errors", None)
    if errors != "strict" or not hasattr(stdout, "reconfigure"):
        return None
    try:
        stdout.reconfigure(errors="backslashreplace")
    except (ValueError, OSError):  # already closed, or not a real text stream
        return None
    return str(errors)


def gui_main() -> int:
    """Entry point of the ``toolbox-uploader-gui`` launcher (no console window on Windows)."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())

"""``toolbox-uploader serve``: run the reference server in the foreground.

Prints ``url: …`` and ``token: …`` (flushed) once it accepts connections, so scripts and
tests can read them. ``AppRunner`` + ``TCPSite`` with our own signal handlers rather
than ``run_app``, because the shutdown sequence has to be ours:

SIGINT/SIGTERM stop it cleanly (``server.lifecycle``: stop accepting, let requests in
progress finish for ``GRACE_SECONDS``, then clean up) and the command exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolbox_uploader.server.config import ServerConfig

GRACE_SECONDS = 10.0
CANCEL_SECONDS = 3.0  # after the grace period: time for cancelled handlers to clean up
EXIT_OK, EXIT_FAILED = 0, 1
#: ASCII only (``re.ASCII``): the Kelvin sign is no "k", nor a full-width digit a digit.
_SIZE = re.compile(r"^\s*([0-9]+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE | re.ASCII)
_TOKEN = re.compile(r"^[\x21-\x7e]{16,512}$")
#: Largest size an option takes (1 PiB): more than any school disk, and far below SQLite's
#: 8 EiB integer limit, which ``user add --quota 99999999999999999999999`` used to hit
#: with an ``OverflowError`` traceback.
MAX_SIZE = 1024 ** 5


def parse_size(text: str) -> int:
    """``BYTES`` as a whole number, or with a binary suffix: ``512k``, ``100M``, ``2GiB``."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (a whole number of bytes, or e.g. 500M, 2G)"
        )
    number, unit = int(match.group(1)), match.group(2).lower()
    size = number * 1024 ** "_kmgt".index(unit) if unit else number
    if size > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is too large "
                                         "(at most 1024T)")
    return size


def positive_size(text: str) -> int:
    size = parse_size(text)
    if size <= 0:
        raise argparse.ArgumentTypeError("the size must be larger than 0")
    return size


def port_number(text: str) -> int:
    # ASCII digits only: ``isdigit`` and ``int`` also take "３" (full-width) and "²"
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 picks a free one)")
    return int(text)


def host_text(text: str) -> str:
    """``--host``: an empty one would listen everywhere and announce ``http://:PORT``."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "needs an address, e.g. 127.0.0.1, or 0.0.0.0 for the whole network")
    return text.strip()


def token_text(text: str) -> str:
    if not _TOKEN.match(text):
        raise argparse.ArgumentTypeError(
            "a token is 16 to 512 printable ASCII characters without spaces"
        )
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    from toolbox_uploader.server.config import DEFAULT_HOST, DEFAULT_PORT

    parser = subparsers.add_parser(
        "serve",
        help="run the upload server (tus + REST API)",
        description="Run the reference upload server until Ctrl+C or SIGTERM.",
    )
    parser.add_argument("--host", type=host_text, default=DEFAULT_HOST, help="address to listen on "
                        f"(default {DEFAULT_HOST}; 0.0.0.0 for the whole network)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="where files, uploads and the database live "
                             "(default: the app's data folder)")
    parser.add_argument("--token", type=token_text,
                        help="token of the default account (default: made on first start "
                             "and kept in DIR/default-token)")
    parser.add_argument("--max-size", type=positive_size, metavar="BYTES",
                        help="largest single upload (e.g. 2G; default 8G)")
    parser.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"toolbox-uploader serve: error: {message}", file=sys.stderr)
    return EXIT_FAILED


def check_data_dir(path: Path) -> str | None:
    """Why ``path`` cannot hold the server's data, or ``None`` when it can."""
    if path.exists() and not path.is_dir():  # else mkdir's bare "File exists"
        return f"cannot use data directory {str(path)!r}: it is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot use data directory {str(path)!r}: {exc.strerror or exc}"
    return None


def run(args: argparse.Namespace) -> int:
    import logging

    from toolbox_uploader import paths
    from toolbox_uploader.commands.validate import check_clamd_env, clamd_problem
    from toolbox_uploader.core.validation.scanner import SCANNER_ENV
    from toolbox_uploader.server.config import DEFAULT_MAX_SIZE, ServerConfig

    scanner = check_clamd_env()  # else every upload is refused with scan_failed
    problem = clamd_problem(scanner, f"${SCANNER_ENV}")
    if problem is not None:
        # A warning, not a refusal to start: at boot clamd may still be loading its
        # signatures, and until it answers every upload is held back, never let through.
        print(f"toolbox-uploader serve: warning: {problem}; every upload is refused "
              "(scan_failed) until it answers.", file=sys.stderr, flush=True)
    data_dir = (args.data_dir or paths.server_data_dir()).expanduser().resolve()
    problem = check_data_dir(data_dir)
    if problem:
        return _fail(problem)
    config = ServerConfig(
        data_dir=data_dir, host=args.host, port=args.port, token=args.token,
        max_size=args.max_size or DEFAULT_MAX_SIZE,
    )
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(serve(config))


async def serve(config: ServerConfig) -> int:
    """Run until a stop signal; the exit code of the command."""
    import signal
    import sqlite3

    from aiohttp import web

    from toolbox_uploader.server import keys
    from toolbox_uploader.server.app import create_app
    from toolbox_uploader.server.lifecycle import (
        make_runner,
        stop_accepting_and_drain,
        track_in_flight,
    )

    app = create_app(config)
    in_flight = track_in_flight(app)
    runner = make_runner(
        app, handle_signals=False, shutdown_timeout=CANCEL_SECONDS, access_log=None
    )
    try:
        await runner.setup()
    except (OSError, sqlite3.Error) as exc:
        return _fail(f"cannot open the server's data in {str(config.data_dir)!r}: {exc}")
    try:
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return _fail(f"port {config.port} on {config.host} is already in use")
            return _fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: object) -> None:
            # A plain handler rather than loop.add_signal_handler: it stays installed after
            # the loop has closed, so a second Ctrl+C during the exit cannot kill the
            # process with a traceback or a signal status. It works on Windows too.
            with contextlib.suppress(RuntimeError):  # the loop is closed: exiting anyway
                loop.call_soon_threadsafe(stop.set)

        for sig in (signal.SIGINT, signal.SIGTERM):  # before the banner: no early-signal race
            signal.signal(sig, on_signal)
        port = runner.addresses[0][1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        print(f"url: http://{host}:{port}", flush=True)
        print(f"token: {app[keys.DEFAULT_TOKEN]}", flush=True)
        await stop.wait()
        print("stopping: finishing requests in progress", file=sys.stderr, flush=True)
        await stop_accepting_and_drain(runner, in_flight, GRACE_SECONDS)
    finally:
        await runner.cleanup()  # cancel what is left, close connections and the database
    return EXIT_OK



"""``toolbox-uploader user add|list``: manage the server's accounts from the command line.

It opens the server's SQLite database directly; WAL mode and a busy timeout make that
safe while ``serve`` runs on the same data directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from toolbox_uploader.commands.serve import check_data_dir, parse_size

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "user", help="add or list server accounts",
        description="Manage the accounts of the upload server's data directory.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create an account and print its token")
    add.add_argument("name", type=account_name,
                     help="account name (1-64 printable characters)")
    add.add_argument("--quota", type=quota_size, metavar="BYTES",
                     help="storage quota, e.g. 5G (default: no limit; 0 is refused)")
    listing = actions.add_parser("list", help="list accounts with their usage")
    listing.add_argument("--json", action="store_true",
                         help="print one JSON object per account (one per line)")
    for sub in (add, listing):
        sub.add_argument("--data-dir", type=Path, metavar="DIR",
                         help="the server's data directory (default: the app's data folder)")
    parser.set_defaults(run=run)


def account_name(text: str) -> str:
    """``NAME``, checked while parsing: a bad one is a usage error (2) and opens no database.
    Besides the server's rules, no character ``shown`` would escape (DEL, C1 controls, line
    separators, bidi overrides): ``user list`` would show such a name garbled or reversed."""
    from toolbox_uploader.commands.shown import shown
    from toolbox_uploader.server.accounts import account_name as checked

    name = checked(text)
    if name is None or shown(name) != name:
        raise argparse.ArgumentTypeError(
            f"'{shown(text)}' is not an account name (1 to 64 printable characters, not "
            "only spaces)"
        )
    return name


def quota_size(text: str) -> int:
    """``--quota``: a size above 0. 0 (or -1), which other tools read as "no limit", would
    here refuse every upload of the account; no limit is leaving the option out."""
    if text.strip().startswith("-") or parse_size(text) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a quota must be larger than 0; leave --quota out for no limit")
    return parse_size(text)


def _fail(message: str) -> int:
    print(f"toolbox-uploader user: error: {message}", file=sys.stderr)
    return EXIT_FAILED


def human_size(size: int | None) -> str:
    """Binary units (GiB), as ``--quota 5G`` is read; not ``core.sizes``, which is for
    teachers comparing with their file browser."""
    if size is None:
        return "unlimited"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    import sqlite3

    from toolbox_uploader import paths
    from toolbox_uploader.server.app import DB_FILE
    from toolbox_uploader.server.db import ServerDatabase

    data_dir = (args.data_dir or paths.server_data_dir()).expanduser().resolve()
    db_path = data_dir / DB_FILE
    problem = check_data_dir(data_dir) if args.action == "add" else None
    if problem:
        return _fail(problem)
    if args.action == "list" and not db_path.exists():
        return _fail(f"no server data in {str(data_dir)!r} (run `serve` once, or check "
                     "--data-dir)")
    try:
        db = ServerDatabase(db_path)
    except (OSError, sqlite3.Error) as exc:
        return _fail(f"cannot open the server database in {str(data_dir)!r}: {exc}")
    try:
        return _add(db, args) if args.action == "add" else _list(db, args)
    except sqlite3.Error as exc:
        return _fail(f"the server database could not be used: {exc}")
    finally:
        db.close()


def _add(db: Any, args: argparse.Namespace) -> int:
    from toolbox_uploader.server.accounts import AccountError, AccountStore

    try:
        account, token = AccountStore(db).create(args.name, args.quota)
    except AccountError as exc:
        return _fail(str(exc))
    print(f"name: {account.name}")
    print(f"token: {token}", flush=True)
    return EXIT_OK


def _list(db: Any, args: argparse.Namespace) -> int:
    from toolbox_uploader.server.accounts import AccountStore

    store = AccountStore(db)
    rows: list[dict[str, Any]] = []
    for account in store.all():
        usage = store.usage(account)
        files = db.fetchone("SELECT COUNT(*) FROM files WHERE owner = ?", (account.id,))[0]
        rows.append({
            "name": account.name, "files": int(files), "used": usage.used,
            "reserved": usage.reserved, "quota": usage.limit, "available": usage.available,
        })
    if args.json:  # JSON lines, as every other --json output: one account per line
        from toolbox_uploader.commands.closable_stdout import print_json_line
        from toolbox_uploader.commands.shown import speaks_utf8

        plain = not speaks_utf8(sys.stdout)  # else ``\u00fc``, still valid JSON
        for row in rows:
            print_json_line(row, ensure_ascii=plain, flush=False)
        sys.stdout.flush()
        return EXIT_OK
    if not rows:
        print("no accounts yet")
        return EXIT_OK
    table = [("NAME", "FILES", "USED / QUOTA", "IN PROGRESS")] + [
        (r["name"], str(r["files"]), f"{human_size(r['used'])} / {human_size(r['quota'])}",
         human_size(r["reserved"]))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return EXIT_OK

"""``toolbox-uploader validate PATHS... [--category C] [--optimize] [--json]``.

Checks files and folders exactly as the app does before an upload and prints one verdict
per file: a table for people, or one JSON object per line (``--json``) for scripts.
Exit code 0 when nothing was refused, 1 when something was, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolbox_uploader.core.categories import CATEGORIES, DEFAULT_CATEGORY
from toolbox_uploader.core.validation.names import printable_name

if TYPE_CHECKING:
    from toolbox_uploader.core.validation.scanner import ClamdScanner


def path_text(text: str) -> str:
    """A PATH argument. An empty one is refused rather than read as the current folder:
    it is almost always a script's unset variable (``validate "$FOLDER"``)."""
    if not text:  # " " is a real (odd) name; only nothing at all is refused
        raise argparse.ArgumentTypeError(
            "an empty path is not a file or folder (an unset variable in a script?); "
            "write . for the current folder")
    return text


def path_problem(text: str) -> str | None:
    """Why the PATH argument ``text`` cannot be used, in a few words, or None. A folder
    above it that cannot be read is said as such, not taken for a missing file."""
    try:
        os.lstat(text)  # a dangling link is still a name to check (and refuse)
    except (FileNotFoundError, NotADirectoryError):
        return "no such file or folder"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def whole_number(text: str) -> int:
    """``N`` in ASCII digits: ``int`` alone also takes "３" (full-width), " 3" and "1_0"."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits 0-9)")
    return int(text)


def check_clamd_env() -> ClamdScanner | None:
    """The scanner ``$TOOLBOX_UPLOADER_CLAMD`` names (None when unset or empty: scanning
    off), or a ``UsageError`` when it is no clamd address: a server started with it refuses
    every file with ``scan_failed`` (on purpose, so nothing passes unchecked), so ``serve``
    and ``upload`` say it at once."""
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.commands.shown import shown
    from toolbox_uploader.core.validation.scanner import SCANNER_ENV, scanner_from_env

    try:
        return scanner_from_env()
    except ValueError as exc:
        raise UsageError(f"${SCANNER_ENV}: {shown(str(exc))}") from None


def clamd_problem(scanner: ClamdScanner | None, source: str) -> str | None:
    """Why ``scanner`` cannot scan now (one PING, a few seconds at most), as one sentence
    naming where it was set (``source``), or None. An address where nothing listens is
    well formed, so it is no usage error: the command says it once and exits 1."""
    from toolbox_uploader.commands.shown import shown

    problem = None if scanner is None else scanner.unreachable()
    return None if problem is None else f"{source}: {shown(problem)}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check files and folders the way an upload would, without uploading",
        description="Check files and folders (recursively) against a category's rules: type "
        "from content, size, names, scripts, macros, zip bombs and more.",
    )
    parser.add_argument("paths", nargs="+", type=path_text, metavar="PATH",
                        help="files or folders to check")
    parser.add_argument("--category", "-c", default=DEFAULT_CATEGORY,
                        help=f"upload category (default {DEFAULT_CATEGORY}; one of "
                        f"{', '.join(CATEGORIES)})")
    parser.add_argument("--optimize", action="store_true",
                        help="also optimize images into the cache and show the savings")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per file (one per line)")
    parser.add_argument("--clamd", metavar="ADDRESS", default=None,
                        help="scan with ClamAV's clamd at unix:/path or tcp:host:port "
                        "(default: $TOOLBOX_UPLOADER_CLAMD; off when unset or empty); "
                        "checked once before any file")
    parser.add_argument("--jobs", "-j", type=whole_number, default=None, metavar="N",
                        help="worker processes, 1 to 61 (default: one per core)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from toolbox_uploader.cli import EXIT_FAILED, EXIT_OK, UsageError
    from toolbox_uploader.core.categories import get_category
    from toolbox_uploader.core.optimize import OptimizeSettings
    from toolbox_uploader.core.parallel import MAX_WORKERS, validate_many
    from toolbox_uploader.core.validation.scanner import SCANNER_ENV, ClamdScanner
    from toolbox_uploader.core.walk import WalkTally, own_folders_note, walk_paths
    from toolbox_uploader.paths import optimized_cache_dir

    if args.category not in CATEGORIES:
        raise UsageError(
            f"unknown category {args.category!r}; choose one of {', '.join(CATEGORIES)}"
        )
    from toolbox_uploader.commands.shown import shown

    for text in args.paths:
        problem = path_problem(text)
        if problem is not None:
            raise UsageError(f"{shown(text)}: {problem}")
    paths = [Path(p) for p in args.paths]
    if args.jobs is not None and not 1 <= args.jobs <= MAX_WORKERS:
        raise UsageError(f"--jobs must be between 1 and {MAX_WORKERS}")
    if args.clamd is not None and not args.clamd.strip():
        # Never "no scanning": ``--clamd "$CLAMD"`` with the variable unset would quietly
        # check without a virus scan (it used to fall back to $TOOLBOX_UPLOADER_CLAMD).
        raise UsageError("--clamd needs an address (unix:/path/to/socket or tcp:host:port); "
                         "leave --clamd out to use $TOOLBOX_UPLOADER_CLAMD, or to check "
                         "without a virus scan when that is unset")
    address = args.clamd or os.environ.get(SCANNER_ENV, "").strip() or None
    where = "--clamd" if args.clamd else f"${SCANNER_ENV}"
    try:
        scanner = ClamdScanner.from_address(address) if address else None
    except ValueError as exc:  # said once, not as ``scan_failed`` on every file
        raise UsageError(f"{where}: {shown(str(exc))}") from None
    problem = clamd_problem(scanner, where)
    if problem is not None:  # well formed, nothing answers: said once, not per file
        print(f"toolbox-uploader validate: error: {problem}. Nothing was checked: start "
              f"clamd or correct {where}, then run the same command again.", file=sys.stderr)
        return EXIT_FAILED
    optimize = OptimizeSettings() if args.optimize else None
    tally = WalkTally()
    results = validate_many(
        walk_paths(paths, tally), args.category, optimize=optimize,
        out_dir=optimized_cache_dir() if optimize else None, scanner=scanner, workers=args.jobs,
    )
    rules = get_category(args.category)
    refused = _print_json(results) if args.json else _print_table(results, rules.label,
                                                                   args.optimize)
    note = own_folders_note(tally.own_folders)
    if note is not None:  # said once, after the walk; never part of --json's lines
        print(f"toolbox-uploader validate: {shown(note)}", file=sys.stderr)
    return EXIT_FAILED if refused else EXIT_OK


def _json_line(entry: Any, report: Any, optimization: Any) -> dict[str, Any]:
    data = report.to_json()
    data["path"] = printable_name(str(entry.path))
    data["relative_path"] = printable_name(entry.relative_path)
    if optimization is not None:
        data["optimization"] = optimization.to_json()
    return data


def _print_json(results: Any) -> int:
    refused = 0
    # Names as they are where standard output takes them; else ``\u00fc``, still valid JSON
    # (the ``\xfc`` that ``cli`` falls back to for text would not be).
    from toolbox_uploader.commands.closable_stdout import print_json_line
    from toolbox_uploader.commands.shown import speaks_utf8

    plain = not speaks_utf8(sys.stdout)
    for entry, report, optimization in results:
        refused += not report.accepted
        print_json_line(_json_line(entry, report, optimization), ensure_ascii=plain)
    return refused


def _print_table(results: Any, label: str, optimize: bool) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from toolbox_uploader.commands.shown import shown
    from toolbox_uploader.core.sizes import human_size
    from toolbox_uploader.core.validation import Verdict

    console = Console()
    table = Table(title=f"Checked for {label}", show_lines=False, expand=False)
    table.add_column("File", overflow="fold")
    table.add_column("Verdict")
    table.add_column("Type", overflow="fold")
    table.add_column("Size", justify="right")
    if optimize:
        table.add_column("Optimized", justify="right")
    table.add_column("Details", overflow="fold")
    counts = {Verdict.ACCEPT: 0, Verdict.WARN: 0, Verdict.REJECT: 0}
    saved = 0
    rows = []
    with console.status("Checking files…") if console.is_terminal else _nothing():
        for entry, report, optimization in results:
            rows.append((entry, report, optimization))
    for entry, report, optimization in sorted(rows, key=lambda r: r[0].relative_path):
        counts[report.verdict] += 1
        style = {Verdict.ACCEPT: "green", Verdict.WARN: "yellow", Verdict.REJECT: "red"}[
            report.verdict]
        word = {Verdict.ACCEPT: "accepted", Verdict.WARN: "accepted (warnings)",
                Verdict.REJECT: "refused"}[report.verdict]
        notes = [f"{shown(r.message)} [{r.code}]" for r in report.reasons]
        notes += [f"{shown(w.message)} [{w.code}]" for w in report.warnings]
        row = [Text(shown(entry.relative_path)), Text(word, style=style),
               Text(short_type(report.mime_type)),
               human_size(report.size) if report.size or report.accepted else "-"]
        if optimize:
            row.append(_savings(optimization, human_size))
            if optimization is not None:
                saved += optimization.saved
                notes.append("Optimized: " + ", ".join(optimization.actions))
        row.append(Text("\n".join(notes)))
        table.add_row(*row)
    console.print(table)
    total = sum(counts.values())
    summary = (f"{total} file{'s' if total != 1 else ''}: "
               f"{counts[Verdict.ACCEPT] + counts[Verdict.WARN]} accepted "
               f"({counts[Verdict.WARN]} with warnings), {counts[Verdict.REJECT]} refused")
    if optimize:
        summary += f"; optimization saved {human_size(saved)}"
    console.print(summary)
    return counts[Verdict.REJECT]


def _savings(optimization: Any, human_size: Any) -> str:
    if optimization is None:
        return "-"
    if optimization.saved <= 0:
        return "unchanged"
    percent = 100 * optimization.saved / max(1, optimization.original_size)
    if percent < 1:
        return f"{human_size(optimization.new_size)} (metadata only)"
    return f"{human_size(optimization.new_size)} (-{percent:.0f}%)"


_SHORT_TYPES = {
    "wordprocessingml.document": "Word (DOCX)",
    "spreadsheetml.sheet": "Excel (XLSX)",
    "presentationml.presentation": "PowerPoint (PPTX)",
    "macroenabled": "Office with macros",
    "opendocument.text": "OpenDocument text",
    "opendocument.spreadsheet": "OpenDocument sheet",
    "opendocument.presentation": "OpenDocument slides",
}


def short_type(mime: str) -> str:
    """A readable name for the long Office types; other types are short enough as they are."""
    for fragment, name in _SHORT_TYPES.items():
        if fragment in mime:
            return name
    return mime


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(1)

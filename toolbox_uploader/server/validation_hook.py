"""The server's check of a completed file against its category's rules.

A validator is ``(path, category, filename) -> ValidationOutcome`` and runs in a worker
thread. The default delegates to the engine's ``validate_file`` so that the desktop app
and the server apply the very same rules. The upload arrives as ``<id>.part`` without an
extension, so the client's ``filename`` is what the name and extension rules look at.
Virus scanning is on when ``TOOLBOX_UPLOADER_CLAMD`` names a clamd socket.

The name rules need no byte of the file, so ``refuse_bad_name`` applies them as an upload
starts: a 4 GB video named ``lesson.exe`` is refused before it is sent, not after.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from toolbox_uploader.core.categories import UnknownCategoryError
from toolbox_uploader.core.validation import scanner_from_env, validate_file
from toolbox_uploader.core.validation.names import check_name
from toolbox_uploader.core.validation.report import Findings
from toolbox_uploader.server import keys
from toolbox_uploader.server.errors import ApiError


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    accepted: bool
    mime_type: str | None
    code: str = "ok"
    message: str = ""


def default_validator(path: Path, category: str, filename: str) -> ValidationOutcome:
    try:
        scanner = scanner_from_env()
    except ValueError as exc:  # a misconfigured scanner must not let files through unchecked
        return ValidationOutcome(False, None, "scan_failed", str(exc))
    try:
        report = validate_file(Path(path), category, filename=filename, scanner=scanner)
    except UnknownCategoryError as exc:
        return ValidationOutcome(False, None, "unknown_category", str(exc))
    if report.accepted:
        return ValidationOutcome(True, report.mime_type)
    first = report.reasons[0]
    return ValidationOutcome(False, report.mime_type, first.code, first.message)


def refuse_bad_name(app: web.Application, filename: str) -> None:
    """422 with the first name rule ``filename`` breaks, as completion would give it.

    Only with the default validator: a server given its own has its own rules."""
    if app[keys.CONFIG].validator is not None:
        return
    findings = Findings()
    check_name(filename, findings)
    if findings.reasons:
        first = findings.reasons[0]
        raise ApiError(422, first.code, first.message)

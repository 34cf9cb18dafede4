"""The result of validating one file, and the collector the individual checks write into.

Checks never raise for bad input: they add a ``Reason`` to ``Findings`` (``reject`` or
``warn``) and the validator turns the findings into one immutable ``ValidationReport``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from toolbox_uploader.core.events import Reason

__all__ = ["Findings", "Reason", "ValidationReport", "Verdict"]


class Verdict(StrEnum):
    ACCEPT = "accept"
    WARN = "accept_with_warnings"
    REJECT = "reject"


@dataclass(frozen=True)
class ValidationReport:
    path: Path
    filename: str
    category: str
    verdict: Verdict
    mime_type: str
    size: int
    #: Why the file is refused (codes plus sentences); empty unless ``verdict`` is REJECT.
    reasons: tuple[Reason, ...]
    #: Things the teacher should know that do not stop the upload.
    warnings: tuple[Reason, ...]
    #: A portable name for servers; the display name stays ``filename``.
    storage_name: str

    @property
    def accepted(self) -> bool:
        return self.verdict is not Verdict.REJECT

    def to_json(self) -> dict[str, Any]:
        """The ``validate --json`` shape (``relative_path`` is added by the caller who knows it)."""
        return {
            "path": str(self.path),
            "filename": self.filename,
            "storage_name": self.storage_name,
            "category": self.category,
            "verdict": self.verdict.value,
            "mime_type": self.mime_type,
            "size": self.size,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "warnings": [{"code": r.code, "message": r.message} for r in self.warnings],
        }


@dataclass
class Findings:
    """What the checks found so far; ``stop`` tells later checks that the file is already refused
    for a reason that makes deeper inspection pointless (empty, executable, too large)."""

    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)
    stop: bool = False

    def reject(self, code: str, message: str, *, stop: bool = False) -> None:
        if all(r.code != code for r in self.reasons):
            self.reasons.append(Reason(code, message))
        self.stop = self.stop or stop

    def warn(self, code: str, message: str) -> None:
        if all(r.code != code for r in self.warnings):
            self.warnings.append(Reason(code, message))

    def verdict(self) -> Verdict:
        if self.reasons:
            return Verdict.REJECT
        return Verdict.WARN if self.warnings else Verdict.ACCEPT

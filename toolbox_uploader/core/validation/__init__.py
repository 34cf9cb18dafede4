"""Local validation of files before upload (and on the server after it): one rule set.

``validate_file(path, category)`` returns a ``ValidationReport`` with a verdict, the type
found in the content, and reasons/warnings as codes plus sentences a teacher can read.
Each kind of check lives in its own module (names, sniff, images, pdf, markup, archives,
compressed and tar_members, media, scanner); ``validator`` runs them in order.
"""

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.validation.report import ValidationReport, Verdict
from toolbox_uploader.core.validation.scanner import (
    ClamdScanner,
    ScanError,
    Scanner,
    ScanResult,
    scanner_from_env,
)
from toolbox_uploader.core.validation.validator import validate_file

__all__ = [
    "ClamdScanner",
    "Reason",
    "ScanError",
    "ScanResult",
    "Scanner",
    "ValidationReport",
    "Verdict",
    "scanner_from_env",
    "validate_file",
]

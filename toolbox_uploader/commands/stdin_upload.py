"""``toolbox-uploader upload -``: the command's side of one upload from standard input.

``core.stream_upload`` does the transfer; this module turns its outcome into the command's
output and exit code.
"""

from __future__ import annotations

import asyncio
import json
import sys

from toolbox_uploader.commands.shown import shown
from toolbox_uploader.core.stream_upload import stream_upload
from toolbox_uploader.core.transfer_errors import TransferError


def upload_stdin(server_url: str | None, endpoint: str | None, token: str | None, *,
                 name: str, category: str, as_json: bool, bandwidth_limit: int | None = None,
                 max_chunk_size: int | None = None) -> int:
    """0 when stored, 1 with the server's message otherwise; ``--bandwidth-limit`` and
    ``--max-chunk-size`` hold for a pipe as for files.

    Standard input is read unbuffered: Ctrl+C while the reader thread waits on a slow pipe
    would otherwise abort the interpreter at exit (a daemon thread inside a buffered read)."""
    # Never closed here: after Ctrl+C the reader thread may still be inside a read of it.
    source = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    try:
        result = asyncio.run(stream_upload(
            source, server_url=server_url, endpoint=endpoint, token=token, name=name,
            category=category, bandwidth_limit=bandwidth_limit, max_chunk_size=max_chunk_size))
    except TransferError as error:
        return _failed(name, error, as_json)
    if as_json:
        print(json.dumps({"event": "summary", "uploaded": 1, "exit_code": 0, **result}))
    else:
        print(f"{shown(name)}: {result['size']} bytes uploaded (sha256 {result['sha256']})")
    return 0


def _failed(name: str, error: TransferError, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"event": "summary", "uploaded": 0, "exit_code": 1,
                          "error": {"code": error.code or error.kind.value,
                                    "message": error.message}}))
    else:
        print(f"toolbox-uploader upload: {shown(name)}: {shown(error.message)}",
              file=sys.stderr)
    return 1

"""A small, scriptable tus 1.0 server for the client's error paths.

Our real server never answers 429 or a stray 460 on demand, so these tests run the client
against this one: it keeps uploads in files, checks ``Upload-Checksum`` like a real server,
and answers the next requests from a script (``server.script.append((429, {...}))``).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

TUS = {"Tus-Resumable": "1.0.0"}


@dataclass
class ScriptedTus:
    directory: Path
    checksum: bool = True
    algorithms: str = "sha1,sha256"
    extensions: str = "creation,creation-with-upload,creation-defer-length,termination,checksum"
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    script_methods: frozenset[str] = frozenset({"PATCH"})
    lengths: dict[str, int | None] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    url: str = ""

    def path(self, upload_id: str) -> Path:
        return self.directory / upload_id

    def data(self, upload_id: str) -> bytes:
        return self.path(upload_id).read_bytes()

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        if method in self.script_methods and self.script:
            await request.read()
            self.requests.append((method, dict(request.headers), 0))
            status, headers = self.script.pop(0)
            body = b'{"error": "scripted", "message": "scripted answer"}'
            return web.Response(
                status=status, body=body, headers={**TUS, **headers},
                content_type="application/json",
            )
        upload_id = request.match_info.get("upload_id", "")
        if method == "OPTIONS":
            self.requests.append((method, dict(request.headers), 0))
            headers = {"Tus-Version": "1.0.0", "Tus-Extension": self.extensions}
            if self.checksum:
                headers["Tus-Checksum-Algorithm"] = self.algorithms
            return web.Response(status=204, headers=headers)
        if method == "POST":
            upload_id = uuid.uuid4().hex
            if "Upload-Length" in request.headers:
                self.lengths[upload_id] = int(request.headers["Upload-Length"])
            else:
                self.lengths[upload_id] = None
            self.path(upload_id).write_bytes(b"")
            offset, status = await self._append(request, upload_id)
            self.requests.append((method, dict(request.headers), offset))
            return web.Response(status=201, headers={
                **TUS, "Location": f"/files/{upload_id}", "Upload-Offset": str(offset)
            })
        if upload_id not in self.lengths:
            return web.Response(status=404, headers=TUS)
        if method == "HEAD":
            self.requests.append((method, dict(request.headers), 0))
            headers = {**TUS, "Upload-Offset": str(self.path(upload_id).stat().st_size),
                       "Cache-Control": "no-store"}
            length = self.lengths[upload_id]
            headers.update(
                {"Upload-Length": str(length)} if length is not None
                else {"Upload-Defer-Length": "1"}
            )
            return web.Response(status=200, headers=headers)
        if method == "DELETE":
            self.requests.append((method, dict(request.headers), 0))
            self.path(upload_id).unlink()
            del self.lengths[upload_id]
            return web.Response(status=204, headers=TUS)
        if method == "PATCH":
            current = self.path(upload_id).stat().st_size
            if int(request.headers["Upload-Offset"]) != current:
                await request.read()
                return web.Response(status=409, headers=TUS)
            if "Upload-Length" in request.headers:
                self.lengths[upload_id] = int(request.headers["Upload-Length"])
            offset, status = await self._append(request, upload_id)
            self.requests.append((method, dict(request.headers), offset - current))
            return web.Response(status=status, headers={**TUS, "Upload-Offset": str(offset)})
        return web.Response(status=405, headers=TUS)

    async def _append(self, request: web.Request, upload_id: str) -> tuple[int, int]:
        """Append the body (all of it, or nothing on a checksum mismatch)."""
        body = await request.read()
        path = self.path(upload_id)
        header = request.headers.get("Upload-Checksum")
        if header and self.checksum:
            name, _, value = header.partition(" ")
            if base64.b64encode(hashlib.new(name, body).digest()).decode() != value:
                return path.stat().st_size, 460
        with open(path, "ab") as handle:
            handle.write(body)
        return path.stat().st_size, 204

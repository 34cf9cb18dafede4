"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of every route.

Written by hand rather than generated: the server has a dozen routes, and the tus
endpoints are defined by headers, which generators describe poorly. A test checks that
every registered route appears here, so the document cannot silently fall behind.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from toolbox_uploader import __version__
from toolbox_uploader.core.categories import CATEGORIES

TUS = "/api/v1/storage/tus"
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


ERROR_REASONS = {
    400: "Malformed request (the message says what)", 401: "Missing or invalid token",
    404: "Not found, or not this account's", 409: "Conflict", 410: "Gone",
    412: "Unsupported Tus-Resumable version", 413: "Too large for the limit or the quota",
    415: "Wrong Content-Type, or a Content-Encoding on upload data",
    416: "Range not satisfiable",
    422: "Refused by the category's rules", 423: "Upload busy",
    426: "Not a WebSocket request", 460: "Checksum mismatch",
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": ERROR_REASONS[s], "content": {JSON: {"schema": _ref("Error")}}}
        for s in statuses
    }


def _tus_headers(*names: str) -> dict[str, Any]:
    return {n: {"schema": {"type": "string"}} for n in names}


ID_PARAM = {
    "name": "file_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
UPLOAD_ID_PARAM = ID_PARAM | {"name": "upload_id"}
TUS_RESUMABLE = {
    "name": "Tus-Resumable", "in": "header", "required": True,
    "schema": {"type": "string", "const": "1.0.0"},
}
FILE_FIELDS = {
    "category": {"type": "string", "enum": list(CATEGORIES), "default": "educational_content"},
    "relative_path": {"type": "string", "description": "Where the file sat in the folder (data)"},
    "title": {"type": "string", "maxLength": 200},
    "description": {"type": "string", "maxLength": 5000},
    "tags": {"description": "JSON list of strings, or comma-separated",
             "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
               "description": "Hex SHA-256 of the whole file; mismatch refuses the file"},
    "size": {"type": "integer", "description": "Declared size: refused up front when too big"},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "File": {
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "filename": {"type": "string"},
            "relative_path": {"type": "string"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "size": {"type": "integer"}, "sha256": {"type": "string"},
            "mime_type": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["available", "missing"],
                       "description": "missing: the row is kept but the bytes are gone "
                                      "(the download is 410)"},
            "created_at": {"type": "number"}, "completed_at": {"type": ["number", "null"]},
            "title": {"type": ["string", "null"]}, "description": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    },
    "FileList": {
        "type": "object",
        "properties": {
            "files": {"type": "array", "items": _ref("File")}, "total": {"type": "integer"},
            "limit": {"type": "integer"}, "offset": {"type": "integer"},
        },
    },
    "Quota": {
        "type": "object",
        "properties": {
            "used": {"type": "integer"}, "reserved": {"type": "integer"},
            "limit": {"type": ["integer", "null"]}, "available": {"type": ["integer", "null"]},
        },
    },
    "BatchResult": {
        "type": "object",
        "properties": {
            "batch_id": {"type": "string"}, "total_files": {"type": "integer"},
            "successful_uploads": {"type": "integer"}, "failed_uploads": {"type": "integer"},
            "results": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"}, "filename": {"type": "string"},
                    "status": {"type": "integer"}, "file": _ref("File"),
                    "error": {"type": "string"}, "message": {"type": "string"},
                },
            }},
        },
    },
    "UploadProgress": {
        "type": "object",
        "properties": {
            "type": {"const": "upload_progress"},
            "data": {"type": "object", "properties": {
                "file_id": {"type": "string"}, "bytes_uploaded": {"type": "integer"},
                "total_bytes": {"type": ["integer", "null"]},
                "progress_percentage": {"type": ["number", "null"]},
                "status": {"type": "string", "enum": [
                    "uploading", "completed", "failed", "terminated", "expired"]},
                "upload_speed": {"type": "number", "description": "bytes per second"},
                "estimated_time_remaining": {"type": ["number", "null"],
                                             "description": "seconds"},
                "message": {"type": "string"},
            }},
        },
    },
}


def _tus_collection() -> dict[str, Any]:
    """The creation endpoint (with and without the trailing slash)."""
    return {
        "options": {
            "summary": "tus capabilities", "security": [],
            "responses": {"204": {"description": "Tus-Version, Tus-Extension, Tus-Max-Size, "
                                  "Tus-Checksum-Algorithm",
                                  "headers": _tus_headers("Tus-Version", "Tus-Extension",
                                                          "Tus-Max-Size",
                                                          "Tus-Checksum-Algorithm")}},
        },
        "post": {
            "summary": "tus creation (with upload, defer-length, concatenation)",
            "parameters": [TUS_RESUMABLE] + [
                {"name": n, "in": "header", "schema": {"type": "string"}}
                for n in ("Upload-Length", "Upload-Defer-Length", "Upload-Metadata",
                          "Upload-Concat", "Upload-Checksum")
            ],
            "responses": {"201": {"description": "Created. A copy of a file the account "
                                  "already has, completed by this request, is not stored: "
                                  "Location is that file's upload URL and "
                                  "Toolbox-Duplicate-Of its id",
                                  "headers": _tus_headers("Location", "Upload-Offset",
                                                          "Upload-Expires",
                                                          "Toolbox-Duplicate-Of")}}
            | _errors(400, 401, 412, 413, 460),
        },
    }


def _document() -> dict[str, Any]:
    auth = [{"bearer": []}]
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {"summary": "Liveness check", "security": [],
                    "responses": {"200": _json({"type": "object"}, "Server is up")}},
            "head": {"summary": "Liveness check without a body", "security": [],
                     "responses": {"200": {"description": "Server is up"}}},
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}},
        },
        "/api/v1/files": {
            "get": {
                "summary": "The account's files, newest first",
                "parameters": [
                    {"name": "category", "in": "query",
                     "schema": {"type": "string", "enum": list(CATEGORIES)}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "sha256", "in": "query",
                     "description": "Copies of this content whose bytes are on the server "
                                    "(files with status missing are left out)",
                     "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}},
                    {"name": "relative_path", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json(_ref("FileList"), "One page of files")}
                | _errors(400, 401),
            },
        },
        "/api/v1/files/{file_id}": {
            "parameters": [ID_PARAM],
            "get": {"summary": "One file's record",
                    "responses": {"200": _json(_ref("File"), "The file")} | _errors(401, 404)},
            "delete": {"summary": "Delete the file (record and bytes)",
                       "responses": {"204": {"description": "Deleted"}} | _errors(401, 404)},
        },
        "/api/v1/files/{file_id}/content": {
            "parameters": [ID_PARAM],
            "get": {
                "summary": "Download the bytes (attachment; HTTP Range supported)",
                "parameters": [{"name": "Range", "in": "header", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The whole file",
                            "content": {"application/octet-stream": {}}},
                    "206": {"description": "The requested range"},
                } | _errors(401, 404, 410, 416),
            },
            "head": {"summary": "Size and headers of the download",
                     "responses": {"200": {"description": "Headers only"}} | _errors(401, 404)},
        },
        "/api/v1/files/upload": {
            "post": {
                "summary": "Upload one file directly (multipart/form-data)",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}} | FILE_FIELDS,
                }}}},
                "responses": {"201": _json(_ref("File"), "Stored")}
                | _errors(400, 401, 413, 415, 422),
            },
        },
        "/api/v1/files/upload/batch": {
            "post": {
                "summary": "Upload several files; per-file results",
                "description": "200 when every file was stored, 207 when at least one was "
                               "not (see each result's status). Nothing is stored when the "
                               "manifest is invalid or does not match the files (400).",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["files", "manifest"],
                    "properties": {
                        "files": {"type": "array",
                                  "items": {"type": "string", "format": "binary"}},
                        "manifest": {"type": "string", "description":
                                     "JSON list, one object per file in order: "
                                     + ", ".join(FILE_FIELDS)},
                    },
                }}}},
                "responses": {
                    "200": _json(_ref("BatchResult"), "All stored"),
                    "207": _json(_ref("BatchResult"), "Some files were refused"),
                } | _errors(400, 401, 413, 415),
            },
        },
        "/api/v1/quota": {
            "get": {"summary": "Used, reserved, limit and available bytes",
                    "responses": {"200": _json(_ref("Quota"), "Usage")} | _errors(401)},
        },
        "/ws/upload/{file_id}": {
            "parameters": [ID_PARAM],
            "get": {
                "summary": "WebSocket: upload_progress messages, a final one, then close",
                "description": "Token in Authorization or ?token= (browsers). Messages are "
                               "UploadProgress objects.",
                "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}],
                "responses": {"101": {"description": "Switching to WebSocket",
                                      "content": {JSON: {"schema": _ref("UploadProgress")}}}}
                | _errors(401, 404, 426),
            },
        },
        TUS: _tus_collection(),
        f"{TUS}/": _tus_collection(),
        f"{TUS}/{{upload_id}}": {
            "parameters": [UPLOAD_ID_PARAM],
            "head": {"summary": "tus offset and metadata", "parameters": [TUS_RESUMABLE],
                     "responses": {"200": {"description": "Upload-Offset, Upload-Length, "
                                           "Upload-Metadata, Cache-Control: no-store"}}
                     | _errors(401, 404, 410, 412)},
            "patch": {
                "summary": "tus: append bytes at Upload-Offset",
                "parameters": [TUS_RESUMABLE] + [
                    {"name": n, "in": "header", "schema": {"type": "string"}}
                    for n in ("Upload-Offset", "Upload-Checksum", "Upload-Length")
                ],
                "requestBody": {"content": {"application/offset+octet-stream": {}}},
                "responses": {"204": {"description": "Bytes stored. When they completed "
                                      "a copy of a file the account already has, nothing "
                                      "new is stored: Toolbox-Duplicate-Of is that file's "
                                      "id, and this upload's id becomes an alias of it",
                                      "headers": _tus_headers("Upload-Offset",
                                                              "Upload-Expires",
                                                              "Toolbox-Duplicate-Of")}}
                | _errors(400, 401, 404, 409, 410, 412, 413, 415, 423, 460),
            },
            "delete": {"summary": "tus termination", "parameters": [TUS_RESUMABLE],
                       "responses": {"204": {"description": "Terminated"}}
                       | _errors(401, 404, 410, 412)},
            "post": {"summary": "Any of the above via X-HTTP-Method-Override",
                     "parameters": [TUS_RESUMABLE, {"name": "X-HTTP-Method-Override",
                                                    "in": "header", "required": True,
                                                    "schema": {"enum": ["PATCH", "DELETE",
                                                                        "HEAD"]}}],
                     "responses": {"204": {"description": "As for the overridden method"}}
                     | _errors(400, 401, 404, 409, 410, 412, 413, 415, 423, 460)},
            "options": {"summary": "tus capabilities", "security": [],
                        "responses": {"204": {"description": "As for the collection"}}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ToolBox Uploader server",
            "version": __version__,
            "description": "Resumable (tus 1.0) and direct uploads of teaching materials. "
                           'Every error is JSON {"error": CODE, "message": TEXT}.',
        },
        "servers": [{"url": "/"}],
        "security": auth,
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }


DOCUMENT = _document()


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi, allow_head=False)

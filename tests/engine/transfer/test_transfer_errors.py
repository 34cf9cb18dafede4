"""Classification of transfer failures by status and exception type."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from toolbox_uploader.core.transfer_errors import (
    RETRY_AFTER_CAP,
    ErrorKind,
    TransferError,
    backoff_delay,
    classify_exception,
    classify_response,
    parse_retry_after,
    retry_delay,
)

REQUEST = httpx.Request("PATCH", "http://127.0.0.1:1/api/v1/storage/tus/x")


def response(status: int, *, json: object = None, headers: dict[str, str] | None = None,
             text: str | None = None) -> httpx.Response:
    if json is not None:
        return httpx.Response(status, json=json, headers=headers, request=REQUEST)
    return httpx.Response(status, text=text or "", headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.FATAL), (401, ErrorKind.AUTH), (403, ErrorKind.AUTH),
        (404, ErrorKind.RESTART), (408, ErrorKind.TRANSIENT), (409, ErrorKind.TRANSIENT),
        (410, ErrorKind.RESTART), (412, ErrorKind.FATAL), (413, ErrorKind.FATAL),
        (415, ErrorKind.FATAL), (422, ErrorKind.FATAL), (423, ErrorKind.TRANSIENT),
        (429, ErrorKind.TRANSIENT), (460, ErrorKind.FATAL), (500, ErrorKind.TRANSIENT),
        (501, ErrorKind.FATAL), (502, ErrorKind.TRANSIENT), (503, ErrorKind.TRANSIENT),
        (504, ErrorKind.TRANSIENT),
    ],
)
def test_status_classification(status: int, kind: ErrorKind) -> None:
    error = classify_response(response(status))
    assert error.kind is kind
    assert error.status == status
    assert error.retryable is (kind in (ErrorKind.TRANSIENT, ErrorKind.OFFLINE))


def test_server_message_and_code_are_kept() -> None:
    error = classify_response(
        response(422, json={"error": "mime_not_allowed", "message": "Executables are refused."})
    )
    assert (error.kind, error.code, error.message) == (
        ErrorKind.FATAL, "mime_not_allowed", "Executables are refused."
    )


def test_message_text_does_not_change_the_kind() -> None:
    """The same status with alarming words in its message is still classified by status."""
    error = classify_response(response(400, json={"error": "bad", "message": "try again later"}))
    assert error.kind is ErrorKind.FATAL


def test_whole_file_mismatch_code_restarts_but_460_does_not() -> None:
    assert classify_response(
        response(400, json={"error": "checksum_mismatch", "message": "x"})
    ).kind is ErrorKind.RESTART
    assert classify_response(
        response(460, json={"error": "checksum_mismatch", "message": "x"})
    ).kind is ErrorKind.FATAL


def test_non_json_body_becomes_the_message() -> None:
    error = classify_response(response(502, text="Bad gateway from nginx"))
    assert error.kind is ErrorKind.TRANSIENT
    assert error.message == "Bad gateway from nginx"
    assert classify_response(response(503)).message.startswith("The server answered 503")


def test_an_html_error_page_is_not_the_message() -> None:
    # A web server that is not a tus server (``python -m http.server``) answers with a page.
    page = ("<!DOCTYPE HTML>\n<html lang='en'><head><title>Error response</title></head>"
            "<body><h1>Error response</h1><p>Error code: 501</p></body></html>")
    error = classify_response(response(501, text=page,
                                       headers={"Content-Type": "text/html;charset=utf-8"}))
    assert error.message == "The server answered 501 Not Implemented."


def test_retry_after_seconds_and_date() -> None:
    assert classify_response(response(429, headers={"Retry-After": "7"})).retry_after == 7.0
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1.5)
    assert parse_retry_after("garbage") is None
    # a server's typo neither overflows nor parks an upload for years; "²" is not a number
    assert parse_retry_after("9" * 400) == RETRY_AFTER_CAP
    assert parse_retry_after("999999999") == RETRY_AFTER_CAP
    assert parse_retry_after("\xb2") is None
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=now) == RETRY_AFTER_CAP
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused", request=REQUEST), ErrorKind.OFFLINE),
        (httpx.ConnectTimeout("slow", request=REQUEST), ErrorKind.OFFLINE),
        (httpx.ReadTimeout("slow", request=REQUEST), ErrorKind.TRANSIENT),
        (httpx.WriteTimeout("slow", request=REQUEST), ErrorKind.TRANSIENT),
        (httpx.ReadError("reset", request=REQUEST), ErrorKind.TRANSIENT),
        (httpx.WriteError("broken pipe", request=REQUEST), ErrorKind.TRANSIENT),
        (httpx.RemoteProtocolError("cut", request=REQUEST), ErrorKind.TRANSIENT),
        (ConnectionRefusedError(), ErrorKind.OFFLINE),
        (ConnectionResetError(), ErrorKind.TRANSIENT),
        (TimeoutError(), ErrorKind.TRANSIENT),
        (FileNotFoundError("gone.pdf"), ErrorKind.FATAL),
        (PermissionError("locked.pdf"), ErrorKind.FATAL),
        (ValueError("odd"), ErrorKind.FATAL),
    ],
)
def test_exception_classification(exc: BaseException, kind: ErrorKind) -> None:
    assert classify_exception(exc).kind is kind


def test_transfer_error_passes_through() -> None:
    error = TransferError(ErrorKind.AUTH, "sign in")
    assert classify_exception(error) is error


def test_status_error_uses_its_response() -> None:
    exc = httpx.HTTPStatusError("x", request=REQUEST, response=response(410))
    assert classify_exception(exc).kind is ErrorKind.RESTART


def test_full_jitter_backoff_bounds() -> None:
    for attempt in range(12):
        ceiling = min(60.0, 2.0**attempt)
        samples = [backoff_delay(attempt) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
    # Full jitter spreads the delays over the whole range rather than clustering at the top.
    late = [backoff_delay(10) for _ in range(400)]
    assert min(late) < 15 and max(late) > 45


def test_retry_delay_never_shorter_than_retry_after() -> None:
    error = TransferError(ErrorKind.TRANSIENT, "busy", status=429, retry_after=5.0)
    assert all(retry_delay(error, 0) >= 5.0 for _ in range(100))
    assert all(retry_delay(TransferError(ErrorKind.TRANSIENT, "x"), 0) <= 1.0 for _ in range(100))


def test_a_bare_404_says_the_upload_is_gone_not_just_the_status() -> None:
    """Shown as "Started over: …" on the row: the teacher learns why, not a status code."""
    error = classify_response(response(404))
    assert error.kind is ErrorKind.RESTART
    assert error.message == ("The server no longer has this upload (404 Not Found): it "
                             "expired or was removed there.")
    told = classify_response(response(410, json={"error": "gone", "message": "Expired."}))
    assert told.message == "Expired."  # the server's own words win


async def test_a_refused_connection_is_told_in_plain_words() -> None:
    """Not the HTTP library's "Cannot connect to host … ssl:default [Connect call failed …]"."""
    from tests.engine.engine_support import free_port
    from toolbox_uploader.core.http_transport import HttpSession

    async with HttpSession() as http:
        with pytest.raises(Exception) as caught:
            await http.request("GET", f"http://127.0.0.1:{free_port()}/", headers={})
    error = classify_exception(caught.value)
    assert error.kind is ErrorKind.OFFLINE
    assert error.message == "The server cannot be reached (connection refused)."

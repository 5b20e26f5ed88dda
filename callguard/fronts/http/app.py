"""The HTTP front (aiohttp): thin — it validates JSON, calls the gate, and answers.

Authentication is a bearer token (``CALLGUARD_HTTP_TOKEN`` or a token file), compared in
constant time; only ``/healthz``, ``/readyz``, ``/openapi.json`` and the ``/supervisor``
page shell (no data) are open. Every failure is a JSON body ``{"error": ...}`` with a
4xx/5xx status (one error middleware
turns aiohttp's own 404/405/413 and any unexpected exception into one); a decision is
always 200 with its verdict (a BLOCK is an answer, not an error). Bodies are JSON in UTF-8
(RFC 8259 8.1), declared ``Content-Type: application/json``: another media type (or
none), or a content coding other than gzip or deflate, is a 415; another declared charset,
nesting deeper than the parser's stack, a body that does not decode as its coding says, or
a body slower than ``body_timeout_ms`` a 4xx, never a 500. Connection limits live in
``limits.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callguard import utc
from callguard.compliance.writer import RecordWriteError
from callguard.errors import CallguardError, NumberError, StoreError, UsageError
from callguard.fronts.http.answers import json_response
from callguard.fronts.http.coding import CodingError, InflatedTooLargeError, inflate
from callguard.fronts.http.limits import (
    BadBodyError,
    BodyTimeoutError,
    ClientGoneError,
    ConnectionLimits,
    limits_middleware,
    read_body,
)
from callguard.fronts.http.metrics import NodeMetrics
from callguard.fronts.http.readiness import Readiness
from callguard.fronts.http.settings import HttpSettings
from callguard.fronts.http.spec import DOCS_DIR, openapi_document
from callguard.fronts.opt_out import opt_out_reason
from callguard.gate import CheckRequest, Gate
from callguard.logredact import redacted_error
from callguard.numbers.parse import named_character
from callguard.numbers.redact import clipped, clipped_repr, redact_digits
from callguard.policy import DialingMode
from callguard.policy.core import FAIL_CLOSED, refusal

__all__ = ["OPENAPI_PATH", "HttpSettings", "build_app"]

OPENAPI_PATH = DOCS_DIR / "openapi.json"
_MODES = frozenset(m.value for m in DialingMode)
# /supervisor is the supervisors' page shell: markup only, its data is behind the token.
_OPEN = frozenset({"/healthz", "/readyz", "/openapi.json", "/supervisor"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_UTF8 = frozenset({"utf-8", "utf8"})
_log = structlog.get_logger("callguard.http")


# A value the client sent is quoted in its 4xx by ``clipped_repr`` so it can find its
# mistake — a number in it by its last four (a proxy, or the dialer's own log, keeps what
# the answer says); spelt by ``repr`` first, redacted after (hrev76).


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


def _not_json(exc: _MediaTypeError) -> web.Response:
    """415 (RFC 9110 15.5.16), with what is accepted: the one media type in ``Accept``, or
    the content codings in ``Accept-Encoding``."""
    return json_response({"error": str(exc)}, status=415, headers=dict([exc.accepted]))


def _not_implemented(message: str) -> web.Response:
    response = _error(501, message)
    response.force_close()
    return response


def _undecodable(message: str) -> web.Response:
    response = _error(400, f"the body could not be read as sent ({message})")
    response.force_close()
    return response


def _gone() -> web.Response:
    response = _error(400, "the connection was lost before the body arrived")
    response.force_close()
    return response


def _too_slow() -> web.Response:
    response = _error(408, "the request body did not arrive in time")
    response.force_close()
    return response


def _json_errors(counts: Counter[str]) -> Any:
    """aiohttp's own errors (404, 405, 413, ...) and any bug, as the app's JSON error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status == 413:
                counts["body_too_large"] += 1
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items()
                       if k.lower() in ("allow", "www-authenticate")}
            response = json_response({"error": f"{exc.status} {exc.reason}"},
                                     status=exc.status, headers=headers)
            if exc.status == 413:  # the body is not read: what follows is no request
                response.force_close()
            return response
        except Exception as exc:  # noqa: BLE001 - a bug is a JSON 500, logged, no traceback out
            counts["internal_error"] += 1
            # Never raising: with stderr on a full disk (ENOSPC) the log line raised here,
            # and aiohttp answered its text/plain "Server got itself in trouble" (hhos15).
            with contextlib.suppress(Exception):
                _log.error("http_internal_error", path=clipped(request.path, 60),
                           error=redacted_error(exc))
            return _error(500, "internal error")

    return middleware


def _auth(token: bytes) -> Any:
    digest = hashlib.sha256(token).digest()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in _OPEN:
            if len(request.headers.getall("Authorization", ())) > 1:
                # one credential (RFC 9110 11.6.2): aiohttp's get() read the first line, and
                # the token followed by any other was served; none wins, as for a JSON key
                return _error(400, "Authorization given more than once; send one")
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            # the bytes as sent: aiohttp decodes a header with surrogateescape, and a token
            # holding a byte that is not UTF-8 (\xff) made .encode() raise — a 500 and an
            # ERROR with a traceback per request, from a peer without the token
            sent = value.encode("utf-8", "surrogateescape")
            # compared as digests, always of one length: compare_digest answers at once
            # when the lengths differ, and the answer's time told the token's length
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    hashlib.sha256(sent).digest(), digest):
                return json_response({"error": "authentication required (Authorization: "
                                          "Bearer <token>)"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)
    return middleware


async def _body(request: web.Request, required: tuple[str, ...],
                optional: tuple[str, ...], limits: ConnectionLimits | None) -> dict[str, str]:
    """The JSON object with string fields, or UsageError naming what is wrong
    (_MediaTypeError: the body does not say it is JSON)."""
    _media_type(request)
    coding = _content_coding(request)
    charset = request.charset
    if charset is not None and charset.lower() not in _UTF8:
        raise UsageError(f"charset {clipped_repr(charset, 40)} is not supported; "
                         "send JSON in UTF-8")
    try:
        raw = await read_body(request, limits)
    except BodyTimeoutError:
        raise _BodyTooSlowError from None
    except BadBodyError as exc:
        raise _UndecodableError(str(exc)) from None
    if coding:
        raw = await _inflated(request, raw, coding, limits)
    try:
        data = await _parsed(raw)
    except _RepeatedKeyError as exc:
        raise UsageError(f"field {clipped_repr(str(exc), 40)} is given more than once") from None
    except ValueError:  # not JSON, not UTF-8, an integer past Python's 4,300 digits
        raise UsageError("the body is not JSON (UTF-8)") from None
    except RecursionError:
        raise UsageError("the body is nested too deeply; send a flat JSON object") from None
    if not isinstance(data, dict):
        raise UsageError("the body must be a JSON object")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        # the fields the route takes, said: a typo ("numbr") is fixed from the answer
        raise UsageError(f"unknown field(s) {clipped(', '.join(unknown), 200)} (required: "
                         f"{', '.join(required)}; optional: {', '.join(optional)})")
    for key in required:
        if key not in data:
            raise UsageError(f"missing field {key!r}")
    for key, value in data.items():
        _text_field(key, value)
    return data


# A body this long is parsed off the loop. A /v1/check or /v1/opt-out body is a few hundred
# bytes (six fields of at most 200 characters); 64 KiB of ``[{},{},...]`` (the default
# max_body_bytes) held the node's one loop 7 ms, every front's answers and budgets waiting,
# and a larger max_body_bytes held it in proportion (1 MiB: about 110 ms).
_PARSE_ON_LOOP_BYTES = 16 * 1024


_parser: ThreadPoolExecutor | None = None


async def _parsed(raw: bytes) -> Any:
    """``raw`` read as JSON (each key once, ``_once_each``): on the loop when short (a
    thread costs more than the parse), in a thread otherwise — the hook runs Python for
    every object, so the loop gets the interpreter back between them. The thread is the
    parser's own, one: in the loop's default executor a flood of long bodies queued ahead
    of the embedded stores' record writes and counts (``asyncio.to_thread``), and every
    front's decisions ran past their budget."""
    global _parser  # noqa: PLW0603 - one for the process, made when first needed
    if len(raw) <= _PARSE_ON_LOOP_BYTES:
        return _json(raw)
    if _parser is None:
        _parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callguard-json")
    return await asyncio.get_running_loop().run_in_executor(_parser, _json, raw)


def _json(raw: bytes) -> Any:
    """``raw`` as JSON in UTF-8, one leading byte order mark ignored (RFC 8259 §8.1: a
    parser "MAY ignore" it): a body saved as "UTF-8 with BOM" was a 400 "not JSON", and
    its call not placed. A BOM anywhere else is still no JSON."""
    return json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_once_each)


def _media_type(request: web.Request) -> None:
    """A body declared as anything but ``application/json`` is not read as JSON: a
    ``text/plain`` or form body that happens to parse is a client sending something else
    (a misconfigured dialer, a browser form), and none may be guessed at. aiohttp gives
    the media type lower-cased, parameters apart, and ``application/octet-stream`` when
    the header is missing (``HeadersMixin._parse_content_type``)."""
    if request.content_type == "application/json":
        return
    given = request.headers.get("Content-Type")
    if given is None:
        raise _MediaTypeError("no Content-Type; send the body as application/json (UTF-8)")
    raise _MediaTypeError(f"Content-Type {clipped_repr(given, 60)} is not supported; "
                          "send the body as application/json (UTF-8)")


class _MediaTypeError(Exception):
    """The body is declared as another media type than JSON, or in a content coding not
    decoded here: 415, with the header that says what is accepted."""

    def __init__(self, message: str,
                 accepted: tuple[str, str] = ("Accept", "application/json")) -> None:
        super().__init__(message)
        self.accepted = accepted


class _TransferCodingError(Exception):
    """A transfer coding other than chunked: 501 (RFC 9112 6.1)."""


class _UndecodableError(Exception):
    """The body does not decode as its Content-Encoding says, or its chunks cannot be
    read: 400."""


# What coding.inflate decodes (br and zstd: a 415, as any coding not named here).
_CODINGS = frozenset({"gzip", "deflate"})
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3


async def _inflated(request: web.Request, raw: bytes, coding: str,
              limits: ConnectionLimits | None) -> bytes:
    """The body undone from its content coding (``coding.py``: a gzip body cut before
    its trailer is refused), within ``max_body_bytes`` inflated (413 past it)."""
    # aiohttp inflated it (a runner without auto_decompress=False, not GuardedSite):
    # whether a gzip body was whole cannot be known, so it is not decided. A request with
    # no body has aiohttp's EmptyStreamReader, without the attribute: that was a 500.
    if getattr(request.content, "total_compressed_bytes", None) is not None:
        raise _MediaTypeError("Content-Encoding is not accepted by this server; send the "
                              "body as is", ("Accept-Encoding", "identity"))
    try:
        return await inflate(raw, coding, request.client_max_size)
    except CodingError as exc:
        if limits is not None:
            limits.counts["bad_body"] += 1
        raise _UndecodableError(redact_digits(str(exc))[:200]) from None
    except InflatedTooLargeError:
        raise web.HTTPRequestEntityTooLarge(request.client_max_size,
                                            request.client_max_size + 1) from None


def _content_coding(request: web.Request) -> str:
    """The body's content coding ("" for none or identity). A body in a coding not decoded
    here (``foo``, ``compress``, a list such as ``gzip, gzip``) was read as if it had none,
    and a body that says it is encoded decided as plain JSON; two ``Content-Encoding``
    lines were decoded by the first alone. Neither is guessed at (RFC 9110 8.4: a coding
    the server does not accept is a 415)."""
    transfer = request.headers.get("Transfer-Encoding")
    if transfer is not None and [c.strip().lower() for c in transfer.split(",")] != [
            "chunked"]:
        # ``gzip, chunked``: aiohttp undoes the chunking only, and read the rest as plain
        raise _TransferCodingError(f"Transfer-Encoding {clipped_repr(transfer, 60)} is not "
                                   "supported; send the body chunked or with a "
                                   "Content-Length")
    given = request.headers.getall("Content-Encoding", [])
    if not given:
        return ""
    # one line, a list of codings in the order applied: ``x-gzip`` is gzip (RFC 9110
    # 8.4.1.3: "SHOULD consider x-gzip to be equivalent to gzip") and ``identity`` is no
    # coding (the registry's "no encoding" synonym) — both were a 415, a dialer's gzip
    # body refused and its call not placed
    codings = [_ALIASES.get(c, c) for c in (c.strip().lower() for c in given[0].split(","))
               if c != "identity"]
    if len(given) == 1 and len(codings) <= 1 and set(codings) <= _CODINGS:
        return codings[0] if codings else ""
    shown = ", ".join(given)
    raise _MediaTypeError(f"Content-Encoding {clipped_repr(shown, 60)} is not supported; "
                          "send the body as is, or gzip or deflate",
                          ("Accept-Encoding", "gzip, deflate"))


def _text_field(key: str, value: object) -> None:
    """A string of at most 200 characters that UTF-8 can spell (the record is UTF-8)."""
    if not isinstance(value, str) or len(value) > 200:
        raise UsageError(f"field {key!r} must be a string of at most 200 characters")
    if not value.isascii():
        try:  # a JSON escape of a lone surrogate has no UTF-8 spelling: no record
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"field {key!r} holds a lone surrogate (\\ud800-\\udfff), "
                             "which is not text") from None


def _printable(key: str, value: str) -> None:
    """A free-text field kept in the record store and shown by ``show``, ``tail`` and the
    supervisor page: a newline or an ESC in it could fake a line on an officer's terminal."""
    hidden = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf")), None)
    if hidden is not None:
        raise UsageError(f"field {key!r} holds {named_character(hidden)}, a control "
                         "character; send plain text")


def _recorded_plain(data: Mapping[str, str],
                    keys: tuple[str, ...] = ("campaign", "reference")) -> None:
    """The free text a check records (campaign, reference) holds no control character:
    the record (JSONL) and the supervisor's stream spell one as ``\\u00XX``, whose digits
    and the value's ran together into a number (hrev79). Refused (400), as FastAGI refuses
    such an argument."""
    for key in keys:
        if data.get(key):
            _printable(key, data[key])


class _RepeatedKeyError(Exception):
    """A JSON object gives one key twice."""


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object, unless a key is repeated: json.loads keeps the last value, a proxy or a
    log may read the first, so the body says two things and is refused (as FastAGI's
    repeated header lines are)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _RepeatedKeyError(key)
        data[key] = value
    return data


class _BodyTooSlowError(Exception):
    """The body did not arrive in time: 408."""


def _instant(text: str) -> datetime:
    """``at`` as an aware instant in utc.YEARS, the bounds and the leap-second spelling
    `check --at` reads too (one instant, one answer on every front)."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        # 23:59:60: RFC 3339 5.6 spells it, Python's datetime cannot hold it (it was "not
        # an ISO-8601 instant", which it is). No verdict depends on the second itself.
        if utc.leap_second(text) is not None:
            raise UsageError(f"'at' {clipped_repr(text, 60)} is a leap second (:60), which "
                             "callguard cannot represent; send the second before it (:59)"
                             ) from None
        raise UsageError(f"'at' {clipped_repr(text, 60)} is not an ISO-8601 instant") from None
    if at.tzinfo is None:
        raise UsageError("'at' needs a UTC offset, e.g. 2026-11-25T11:00:00-07:00")
    if utc.out_of_years(at):  # 0001-01-01T00:00+14:00 is before year 1 in UTC: out too
        first, last = utc.YEARS
        raise UsageError(f"'at' must fall in the years {first}-{last} (UTC)")
    return at


AT_SKEW = "callguard:at-skew"


def _gate_clock(gate: Gate) -> datetime:
    """The node's clock as the gate reads it (serve_at.py and tests move the gate's)."""
    now: datetime = gate._clock()  # noqa: SLF001
    return now


def _skewed(at: datetime | None, now: datetime, skew_s: float) -> str | None:
    """Why ``at`` is too far from the node's clock to be decided as the call's instant
    (None: not, or the check is off). ``at`` is the client's word: a hostile or broken
    dialer sending a past weekday 11:00 at 23:00 had the calling-hours rules judge an
    instant the call is not placed at. Only an operator who knows the dialer sends its
    real clock turns this on (``[http] max_at_skew``)."""
    if at is None or skew_s <= 0:
        return None
    off = (at - now).total_seconds()
    if abs(off) <= skew_s:
        return None
    side = "behind" if off < 0 else "ahead of"
    return (f"'at' is {abs(off):.0f} s {side} the node's clock, more than [http] "
            f"max_at_skew {skew_s:g} s: the call would be judged at an instant it is not "
            "placed at; call not placed")


def _mode(mode: str | None) -> None:
    """An unknown mode is the sender's error (400), not a call to decide and record."""
    if mode is not None and mode not in _MODES:
        raise UsageError(f"'mode' {clipped_repr(mode, 40)} is not one of "
                         f"{', '.join(sorted(_MODES))} (omit it for the campaign's)")


_REFUSED = (_MediaTypeError, _UndecodableError, _TransferCodingError, _BodyTooSlowError,
            ClientGoneError)


def _refusal(exc: Exception, counts: Counter[str]) -> web.Response:
    """The answer to a body refused before anything is decided or recorded (one of
    ``_REFUSED``), for /v1/check and /v1/opt-out alike."""
    if isinstance(exc, _MediaTypeError):
        counts["unsupported_media_type"] += 1
        return _not_json(exc)
    if isinstance(exc, _UndecodableError):
        return _undecodable(str(exc))
    if isinstance(exc, _TransferCodingError):
        counts["bad_http"] += 1
        return _not_implemented(str(exc))
    if isinstance(exc, _BodyTooSlowError):
        return _too_slow()
    return _gone()


_DEFAULT_BUDGET_S = 0.25  # HttpSettings.budget_ms


def _opted_out(e164: str, lists: tuple[str, ...]) -> dict[str, Any]:
    """/v1/opt-out's answer: whose do-not-call lists the number went on, in FastAGI's words
    (``reason``, its CALLGUARD_REASON) and the decision record's keys: the seller's
    (``solicitor``), and the call centre's (``telemarketer``; null when the campaign names
    none)."""
    return {"recorded": True, "number_last4": e164[-4:],
            "solicitor": lists[0] if lists else None,
            "telemarketer": lists[1] if len(lists) > 1 else None,
            "reason": opt_out_reason(e164, lists)}


def build_app(*, gate: Gate, metrics: NodeMetrics, readiness: Readiness, token: bytes,
              max_body_bytes: int = 65_536, limits: ConnectionLimits | None = None,
              budget_s: float = _DEFAULT_BUDGET_S,
              at_skew_s: float | None = None) -> web.Application:
    """The application; the caller runs it (``web.AppRunner`` and ``GuardedSite``).
    ``at_skew_s``: ``[http] max_at_skew`` (None: the limits' own, else off)."""
    counts: Counter[str] = limits.counts if limits is not None else Counter()
    skew_s = at_skew_s if at_skew_s is not None else (
        limits.settings.max_at_skew if limits is not None else 0.0)

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        checks = await readiness.run()
        ready = all(c.ok for c in checks)
        return json_response(
            {"ready": ready, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                                        for c in checks]},
            status=200 if ready else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        await metrics.refresh(readiness)  # callguard_ready says what /readyz would
        return web.Response(body=generate_latest(metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=openapi_document(), content_type="application/json")

    async def check(request: web.Request) -> web.Response:
        try:
            data = await _body(request, ("number", "campaign"),
                               ("mode", "at", "location", "reference"), limits)
            at = _instant(data["at"]) if "at" in data else None
            _mode(data.get("mode"))
            _recorded_plain(data)
        except UsageError as exc:
            counts["bad_request"] += 1
            return _error(400, str(exc))
        except _REFUSED as exc:
            return _refusal(exc, counts)
        asked = CheckRequest(
            number=data["number"], campaign=data["campaign"], mode=data.get("mode"), at=at,
            location=data.get("location"), front="http",
            reference=data.get("reference") or None)
        skewed = _skewed(at, _gate_clock(gate), skew_s)
        if skewed is not None:  # every /v1/check places a call (a scrub is the CLI's)
            counts["at_skew"] += 1
            decision = await gate.refuse(asked, refusal(AT_SKEW, FAIL_CLOSED, skewed),
                                         started=time.perf_counter())
        else:  # the gate owns the time budget, as for FastAGI and SIP: past it the answer
            # is the recorded BLOCK callguard:time-budget, never a hung client
            decision = await gate.check(asked, budget_s=budget_s)
        return json_response(decision.to_dict())

    async def opt_out(request: web.Request) -> web.Response:
        try:
            data = await _body(request, ("number", "campaign"), ("source",), limits)
            _recorded_plain(data, ("source", "campaign"))
            e164 = await gate.opt_out(data["number"], data["campaign"],
                                      source=data.get("source") or "http")
        except (UsageError, NumberError) as exc:
            counts["bad_request"] += 1
            return _error(400, redact_digits(str(exc)))  # the campaign as sent, quoted
        except _REFUSED as exc:
            return _refusal(exc, counts)
        except StoreError as exc:
            return _error(503, f"not recorded: {exc}")
        except RecordWriteError as exc:
            # Gate.write applies the store's write first, then logs it: the opt-out is in
            # force (the next call is BLOCKed), only its compliance record is missing.
            # "not recorded" was false; sent again, it is logged (changed: 0) and answered.
            counts["opt_out_unlogged"] += 1
            return _error(503, "the number is on the do-not-call list (in force), but the "
                          f"compliance log could not record the change ({exc}); send the "
                          "opt-out again once the log is writable")
        except CallguardError as exc:
            return _error(500, f"not recorded: {exc}")
        return json_response(_opted_out(e164, gate.opt_out_lists(data["campaign"])))

    middlewares = [_json_errors(counts), _auth(token)]
    if limits is not None:
        middlewares.insert(0, limits_middleware(limits))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_post("/v1/check", check)
    app.router.add_post("/v1/opt-out", opt_out)
    return app

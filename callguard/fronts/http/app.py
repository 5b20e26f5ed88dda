"""The HTTP front (aiohttp): thin — it validates JSON, calls the gate, and answers.

Authentication is a bearer token (``CALLGUARD_HTTP_TOKEN`` or a token file), compared in
constant time; only ``/healthz``, ``/readyz`` and ``/openapi.json`` are open. Every
failure is a JSON body ``{"error": ...}`` with a 4xx/5xx status (one error middleware
turns aiohttp's own 404/405/413 and any unexpected exception into one); a decision is
always 200 with its verdict (a BLOCK is an answer, not an error). Bodies are JSON in UTF-8
(RFC 8259 8.1): another declared charset, nesting deeper than the parser's stack, or a
body slower than ``body_timeout_ms`` is a 4xx, never a 500. Connection limits live in
``limits.py``.
"""

from __future__ import annotations

import hmac
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callguard.errors import CallguardError, NumberError, StoreError, UsageError
from callguard.fronts.http.limits import (
    BodyTimeoutError,
    ConnectionLimits,
    HttpLimitSettings,
    limits_middleware,
    read_body,
)
from callguard.fronts.http.metrics import NodeMetrics
from callguard.fronts.http.readiness import Readiness
from callguard.gate import CheckRequest, Gate
from callguard.logredact import redacted_error
from callguard.numbers.redact import redact_digits
from callguard.resources import openapi_spec

__all__ = ["OPENAPI_PATH", "HttpSettings", "build_app"]

OPENAPI_PATH = openapi_spec()  # callguard/data: shipped in the wheel
_OPEN = frozenset({"/healthz", "/readyz", "/openapi.json"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_UTF8 = frozenset({"utf-8", "utf8"})
_log = structlog.get_logger("callguard.http")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: the metrics, health and JSON API port."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    token_file: str = ""  # else CALLGUARD_HTTP_TOKEN
    require_clock_sync: bool = True
    max_body_bytes: int = 65_536
    max_connections: int = 256  # open at once; more are closed at once (counted)
    header_timeout_ms: int = 5000  # a request head must arrive within this
    body_timeout_ms: int = 10_000  # and its body within this (408)
    allowed_sources: tuple[str, ...] = ()  # addresses/networks; empty: any

    def limits(self) -> HttpLimitSettings:
        """The connection limits, for ``GuardedSite``."""
        return HttpLimitSettings(max_connections=self.max_connections,
                                 header_timeout_ms=self.header_timeout_ms,
                                 body_timeout_ms=self.body_timeout_ms,
                                 allowed_sources=self.allowed_sources)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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
            return web.json_response({"error": f"{exc.status} {exc.reason}"},
                                     status=exc.status, headers=headers)
        except Exception as exc:  # noqa: BLE001 - a bug is a JSON 500, logged, no traceback out
            counts["internal_error"] += 1
            _log.error("http_internal_error", path=redact_digits(request.path[:60]),
                       error=redacted_error(exc))
            return _error(500, "internal error")

    return middleware


def _auth(token: bytes) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in _OPEN:
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token):
                return web.json_response({"error": "authentication required (Authorization: "
                                          "Bearer <token>)"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)
    return middleware


async def _body(request: web.Request, required: tuple[str, ...],
                optional: tuple[str, ...], limits: ConnectionLimits | None) -> dict[str, str]:
    """The JSON object with string fields, or UsageError naming what is wrong."""
    charset = request.charset
    if charset is not None and charset.lower() not in _UTF8:
        raise UsageError(f"charset {charset[:40]!r} is not supported; send JSON in UTF-8")
    try:
        raw = await read_body(request, limits)
    except BodyTimeoutError:
        raise _BodyTooSlowError from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:  # not JSON, not UTF-8, an integer past Python's 4,300 digits
        raise UsageError("the body is not JSON (UTF-8)") from None
    except RecursionError:
        raise UsageError("the body is nested too deeply; send a flat JSON object") from None
    if not isinstance(data, dict):
        raise UsageError("the body must be a JSON object")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise UsageError(f"unknown field(s) {', '.join(unknown)[:200]}")
    for key in required:
        if key not in data:
            raise UsageError(f"missing field {key!r}")
    for key, value in data.items():
        if not isinstance(value, str) or len(value) > 200:
            raise UsageError(f"field {key!r} must be a string of at most 200 characters")
    return data


class _BodyTooSlowError(Exception):
    """The body did not arrive in time: 408."""


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"'at' {text!r} is not an ISO-8601 instant") from None
    if at.tzinfo is None:
        raise UsageError("'at' needs a UTC offset, e.g. 2026-11-25T11:00:00-07:00")
    return at


def build_app(*, gate: Gate, metrics: NodeMetrics, readiness: Readiness, token: bytes,
              max_body_bytes: int = 65_536,
              limits: ConnectionLimits | None = None) -> web.Application:
    """The application; the caller runs it (``web.AppRunner`` and ``GuardedSite``)."""
    counts: Counter[str] = limits.counts if limits is not None else Counter()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        checks = await readiness.run()
        ready = all(c.ok for c in checks)
        return web.json_response(
            {"ready": ready, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                                        for c in checks]},
            status=200 if ready else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/json")

    async def check(request: web.Request) -> web.Response:
        try:
            data = await _body(request, ("number", "campaign"),
                               ("mode", "at", "location", "reference"), limits)
            at = _instant(data["at"]) if "at" in data else None
        except UsageError as exc:
            counts["bad_request"] += 1
            return _error(400, str(exc))
        except _BodyTooSlowError:
            return _too_slow()
        decision = await gate.check(CheckRequest(
            number=data["number"], campaign=data["campaign"], mode=data.get("mode"), at=at,
            location=data.get("location"), front="http",
            reference=data.get("reference") or None))
        return web.json_response(decision.to_dict())

    async def opt_out(request: web.Request) -> web.Response:
        try:
            data = await _body(request, ("number", "campaign"), ("source",), limits)
            e164 = await gate.opt_out(data["number"], data["campaign"],
                                      source=data.get("source") or "http")
        except (UsageError, NumberError) as exc:
            counts["bad_request"] += 1
            return _error(400, str(exc))
        except _BodyTooSlowError:
            return _too_slow()
        except StoreError as exc:
            return _error(503, f"not recorded: {exc}")
        except CallguardError as exc:
            return _error(500, f"not recorded: {exc}")
        return web.json_response({"recorded": True, "number_last4": e164[-4:]})

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

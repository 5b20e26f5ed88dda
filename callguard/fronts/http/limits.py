"""The HTTP port's limits, enforced below aiohttp: sources, connections, header time.

aiohttp 3.14 has no header-read timeout (a half-sent request waits for its keep-alive
timeout, 75 s), no connection cap and no source allowlist, so 3,000 half-sent
unauthenticated requests held 3,000 sockets — and descriptors — for as long as their
senders liked. ``GuardedSite`` listens itself (``loop.create_server`` with aiohttp's
documented protocol factory, ``runner.server``) and wraps each connection:

- a peer outside ``allowed_sources`` (when set) is closed before anything is read;
- past ``max_connections`` open connections, a new one is closed at once, and so is one
  from an address already holding ``max_connections_per_source`` (one host that opens and
  holds connections without the token cannot take every place);
- a connection must deliver a whole request head within ``header_timeout_ms`` of opening
  or of its previous response (``limits_middleware`` stops the clock when a request
  reaches the application and restarts it after); otherwise it is closed;
- the body must arrive within ``body_timeout_ms`` (``read_body``; 408 otherwise).

Every refusal is counted (``callguard_http_events_total{event}``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import HttpVersion11, StreamReader, web
from aiohttp.http_exceptions import (
    HttpProcessingError,
    PayloadEncodingError,
    TransferEncodingError,
)
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo

from callguard.fronts.dual_stack import (
    StrangerLog,
    dual_stack_listener,
    plain_network,
    source_allowed,
    source_holder,
)
from callguard.fronts.http.answers import json_response
from callguard.fronts.http.settings import HttpLimitSettings
from callguard.numbers.redact import redact_digits

__all__ = ["BadBodyError", "BodyTimeoutError", "ClientGoneError", "ConnectionLimits",
           "GuardedSite", "HttpLimitSettings", "limits_middleware", "read_body"]

_MIN_BACKLOG = 100  # asyncio's own default listen backlog

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ConnectionLimits:
    """Live state of the limits: open connections, their clocks, the counts."""

    settings: HttpLimitSettings
    counts: Counter[str] = field(default_factory=Counter)
    open: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    _guards: dict[int, _Guarded] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._networks = [plain_network(s) for s in self.settings.allowed_sources]
        self.strangers = StrangerLog("http_source_refused", "[http] allowed_sources")

    @staticmethod
    def source(peer: Any) -> str:
        """The address a connection comes from (its port left out)."""
        try:
            return str(peer[0])
        except (TypeError, IndexError):
            return ""

    @staticmethod
    def holder(peer: Any) -> str:
        """Whose connection this is, for ``max_connections_per_source``: an IPv6 peer's /64,
        else its address (``dual_stack.source_holder``, as the SIP front counts)."""
        return source_holder(ConnectionLimits.source(peer))

    def allowed(self, peer: Any) -> bool:
        """Whether the peer address may connect (any, when no allowlist is set)."""
        if not self._networks:
            return True
        try:
            return source_allowed(self._networks, str(peer[0]))
        except (TypeError, IndexError):
            return False

    def guard_of(self, request: web.Request) -> _Guarded | None:
        """The guard of the connection a request came on."""
        return self._guards.get(id(request.transport))


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, the limits around it."""

    def __init__(self, limits: ConnectionLimits, inner: asyncio.Protocol) -> None:
        self._limits = limits
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._source = ""
        self.ended = False  # the client ended its side: close after the answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        limits = self._limits
        limits.counts["connections"] += 1
        if not limits.allowed(transport.get_extra_info("peername")):
            limits.counts["refused_source"] += 1
            limits.strangers.refused(limits.source(transport.get_extra_info("peername")))
            transport.abort()
            return
        if limits.open >= limits.settings.max_connections:
            limits.counts["refused_busy"] += 1
            transport.abort()
            return
        source = limits.holder(transport.get_extra_info("peername"))
        if limits.by_source[source] >= limits.settings.max_connections_per_source:
            limits.counts["refused_source_busy"] += 1
            transport.abort()
            return
        limits.open += 1
        limits.by_source[source] += 1
        self._source = source
        self._transport = transport
        limits._guards[id(transport)] = self  # noqa: SLF001 - the limits' own table
        self.start_clock()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        """The client ended its side. With a request being handled (or queued), the
        connection stays open for its answer and closes after it (a POST, a decision or an
        opt-out; any other request is closed at once, as before): aiohttp let asyncio
        close it at once, and the handler went on, decided and recorded a call whose
        answer nobody read (a client that half-closes once its request is sent). A body
        still to come is failed: answered 400, nothing decided. Idle, closed as before."""
        if self._transport is None:
            return None
        inner = self._inner
        if not isinstance(inner, _RequestHandler) or inner.posting() is False:
            # idle, or only GETs (a supervisor's stream ends with its page): as aiohttp
            return inner.eof_received()
        self.ended = True
        inner.end_of_input()
        return True

    def close(self) -> None:
        """Close the connection (the client's input ended, nothing is to be answered)."""
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self.stop_clock()
        self._limits.open -= 1
        by_source = self._limits.by_source
        by_source[self._source] -= 1
        if by_source[self._source] <= 0:
            del by_source[self._source]
        self._limits._guards.pop(id(self._transport), None)  # noqa: SLF001
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def queued(self) -> bool:
        """Requests wait behind the one being answered (pipelined)."""
        inner = self._inner
        return isinstance(inner, _RequestHandler) and bool(inner._messages)  # noqa: SLF001

    def start_clock(self) -> None:
        """The next request head must arrive within the header timeout."""
        self.stop_clock()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._limits.settings.header_timeout_ms / 1000,
                                      self._expired)

    def stop_clock(self) -> None:
        """A request reached the application: its head is complete."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._limits.counts["header_timeout"] += 1
            self._transport.abort()


def limits_middleware(limits: ConnectionLimits) -> Any:
    """Stop the connection's header clock while a request is handled; restart it after."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = limits.guard_of(request)
        if guard is not None:
            guard.stop_clock()
            if guard.ended:  # taken off aiohttp's queue as the client's input ended
                if request.method == "POST":
                    _cut(request.content)
                else:
                    guard.close()
        try:
            response = await handler(request)
        finally:
            if guard is not None:
                guard.start_clock()
        if guard is not None and guard.ended and not guard.queued():
            response.force_close()  # the last answer: no request follows the end of input
        _stop_decoding(request, response)
        return response

    return middleware


_PLAIN = frozenset({"", "identity"})


def _stop_decoding(request: web.Request, response: web.StreamResponse) -> None:
    """An encoded body answered before it was all read (a 401 without the token, a 413
    past ``max_body_bytes``, a 404) is not read on: aiohttp went on reading the rest of it
    after the answer ("lingering", until the header timeout closed the connection 5 s
    later), inflating every byte — a gzip body of zeros costs about 1000 times its size to
    inflate, so a peer without the token had the node inflate a GB (about a second of its
    one loop) per MB it sent. Failing the body ends the lingering: the connection closes
    once the answer is written. (``GuardedSite`` now turns aiohttp's inflating off and the
    app inflates a body read whole, ``coding.py``; this stays for a runner that does not.)

    A body that had arrived whole before the answer, unread, is not "still to come":
    nothing failed it, and aiohttp kept the connection alive until the header clock closed
    it 5 s later (a CI run of review38's test, lead session 26): the answer closes the
    connection whenever the handler left the body unread (``at_eof``: arrived and read)."""
    codings = request.headers.getall("Content-Encoding", [])
    if all(coding.strip().lower() in _PLAIN for coding in codings):
        return
    if not request.content.is_eof():
        request.content.set_exception(
            RequestPayloadError("answered before the body was read"))
    if not request.content.at_eof():
        response.force_close()


class BodyTimeoutError(Exception):
    """The request body did not arrive within the body timeout."""


class ClientGoneError(Exception):
    """The client closed the connection before its body arrived: nobody to answer."""


class BadBodyError(Exception):
    """The body arrived but cannot be decoded as declared (``Content-Encoding: gzip`` on a
    body that is not gzip): the sender's error, a 400 naming why — it was a 500."""


# A body that cannot be read as sent: RequestPayloadError as aiohttp's C parser (and
# ``_RequestHandler.data_received``) fail it; PayloadEncodingError as its pure-Python
# parser (AIOHTTP_NO_EXTENSIONS=1, or no C extension for the platform) does a malformed
# chunk — that one was a 500 and two tracebacks per request.
_BODY_ERRORS = (RequestPayloadError, PayloadEncodingError)


async def read_body(request: web.Request, limits: ConnectionLimits | None) -> bytes:
    """The whole body, within the body timeout; raises BodyTimeoutError otherwise, and
    ClientGoneError (counted ``client_gone``, not an internal error) for a client gone.

    A body declared longer than the app reads (``max_body_bytes``) is refused before any
    of it is read: 413 (RFC 9110 §15.5.14), as when the bytes come. Waited for, a
    ``Content-Length: 99999999999`` held its connection ``body_timeout_ms`` and was then
    told 408 "did not arrive in time" — the wrong reason, and a slot of
    ``max_connections`` held 10 s for a request line."""
    declared = request.content_length
    most = request.client_max_size
    if declared is not None and most and declared > most:
        raise web.HTTPRequestEntityTooLarge(max_size=most, actual_size=declared)
    try:
        if limits is None:
            return await request.read()
        async with asyncio.timeout(limits.settings.body_timeout_ms / 1000):
            return await request.read()
    except TimeoutError:
        if limits is not None:
            limits.counts["body_timeout"] += 1
        raise BodyTimeoutError from None
    except ConnectionError:
        if limits is not None:
            limits.counts["client_gone"] += 1
        raise ClientGoneError from None
    except _BODY_ERRORS as exc:
        if limits is not None:
            limits.counts["bad_body"] += 1
        reason = _reason(str(exc))
        # the Python parser quotes the line only, raised as is or (a request pipelined
        # behind another) as the RequestPayloadError its payload was failed with
        chunked = (exc, exc.__cause__)
        if (any(isinstance(e, TransferEncodingError) for e in chunked)
                and "chunk" not in reason.lower()):
            reason = f"malformed chunk: {reason}"
        raise BadBodyError(reason) from None


def _reason(message: str) -> str:
    """aiohttp's ``400, message:\n  Can not decode content-encoding: gzip``, or the
    parser's ``Invalid character in chunk size`` (then the bytes it read and a caret), as
    its one line of reason."""
    lines = [line.strip() for line in message.splitlines()]
    lines = [line for line in lines if line and not line.endswith(", message:")]
    return _quoted(lines[0] if lines else "malformed body")


def _quoted(reason: str) -> str:
    """A parser's reason as an answer may quote it: aiohttp's pure-Python parser quotes
    the line it refused, and a client that declared ``chunked`` but sent its JSON as is
    had ``{"number": "801-555-0199", ...}`` as the "chunk size" — the number came back in
    clear in the 400 (and may be logged by whatever reads it). Numbers reduced to their
    last four, as every other reason."""
    return redact_digits(reason)[:200]


_CONTINUE = "100-continue"


def _unmet_expectation(request: web.BaseRequest,
                       counts: Counter[str]) -> web.StreamResponse | None:
    """A JSON 417 for an ``Expect`` other than ``100-continue`` (RFC 9110 §10.1.1), or None.
    aiohttp's default expect handler runs before any route or middleware and answered a
    text/plain 417 echoing the header as sent ("Unknown Expect: 801-555-0199-continue":
    a number in clear, on every path, without the token); the answer quotes nothing sent.
    HTTP/1.0 expectations are ignored, as aiohttp and §10.1.1 (for 100-continue) do."""
    if request.version != HttpVersion11:
        return None
    expected = request.headers.getall("Expect", [])
    # SP and HTAB only (RFC 9110 5.5): str.strip() also took U+00A0 and the other Unicode
    # spaces, passing "100-continue" + U+00A0 on to aiohttp's handler, whose text/plain 417
    # echoed it
    if not expected or [value.strip(" \t").lower() for value in expected] == [_CONTINUE]:
        return None
    counts["bad_http"] += 1
    response = json_response(
        {"error": "417 Expectation Failed: the only expectation met is Expect: 100-continue"},
        status=417)
    response.force_close()  # a body may follow the head: never read as the next request
    return response


def _declared_too_large(request: web.BaseRequest,
                        counts: Counter[str]) -> web.StreamResponse | None:
    """A JSON 413 for a body declared longer than the app reads (``max_body_bytes``), before
    aiohttp's expect handler answers ``100 (Continue)`` to it: RFC 9110 §10.1.1, a server
    may answer a final status instead, and told to go on a client sends a body that is
    never read. Only then: without an Expect the token is asked first (a peer without it
    is told 401, not the node's limit), and ``read_body`` refuses the same declaration."""
    declared = request.content_length
    most = request.client_max_size
    if declared is None or not most or declared <= most or (
            "Expect" not in request.headers):  # a 100-continue (anything else is a 417)
        return None
    counts["body_too_large"] += 1
    response = json_response({"error": "413 Request Entity Too Large"}, status=413)
    response.force_close()  # the body is not read: never read as the next request
    return response


class _EndOfInputError(ConnectionResetError):
    """The client ended its side before this body arrived (``read_body``: a 400)."""


def _cut(body: object) -> None:
    """Fail a body still to come: no more input will bring it."""
    if isinstance(body, StreamReader) and not body.is_eof():
        body.set_exception(_EndOfInputError("the client ended its side before the body "
                                            "arrived"))


class _RequestHandler(RequestHandler):
    """aiohttp's protocol, but for its answer to a request its parser refuses (two
    Content-Lengths, a negative one, a NUL in a header) before any handler or middleware
    runs: that was a text/plain 400 echoing the line, and an ERROR with a traceback on
    stderr per request — a peer that needs no token could write the log as fast as it
    connects. Here a JSON 400 as every other error, its first line only, counted
    (``bad_http``); anything else (a 500, a 504) is aiohttp's own handling."""

    __slots__ = ("_counts",)

    def __init__(self, manager: web.Server, counts: Counter[str], **options: Any) -> None:
        super().__init__(manager, **options)
        self._counts = counts
        app = self._request_handler
        assert app is not None

        async def expecting(request: web.BaseRequest) -> web.StreamResponse:
            refused = _unmet_expectation(request, counts) or _declared_too_large(
                request, counts)
            return refused if refused is not None else await app(request)

        self._request_handler = expecting

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        """A JSON 4xx for what the parser refused; aiohttp's answer otherwise."""
        if not isinstance(exc, HttpProcessingError) or not 400 <= status < 500:
            return super().handle_error(request, status, exc, message)
        self._counts["bad_http"] += 1
        first = (message or "").strip().splitlines()[:1]
        reason = _quoted(first[0].rstrip(":").strip()) if first else "malformed request"
        response = json_response(
            {"error": f"{status} {HTTPStatus(status).phrase}: {reason}"}, status=status)
        response.force_close()
        return response

    def data_received(self, data: bytes) -> None:
        """As aiohttp, and a body its parser refuses part-way (a chunk size that is not
        hex, after a first good chunk) fails the read of the request being handled: aiohttp
        queued the 400 behind that request, whose read waited for the rest of a body that
        could never come, and answered 408 "did not arrive in time" ``body_timeout_ms``
        later. Now ``read_body`` answers 400 at once, naming the parser's reason."""
        queued = len(self._messages)
        super().data_received(data)
        request = self._current_request
        if request is None or len(self._messages) <= queued:
            return
        message = self._messages[-1][0]
        if isinstance(message, _ErrInfo) and not request.content.is_eof():
            request.content.set_exception(RequestPayloadError(message.message))

    def posting(self) -> bool | None:
        """Whether a POST is being handled or waits to be: True, False (none, or nothing
        at all: aiohttp's ``start`` idle on its waiter), None (a request taken off the
        queue whose handler has not started: ``limits_middleware`` tells)."""
        methods = [message.method for message, _ in self._messages
                   if not isinstance(message, _ErrInfo)]
        if self._current_request is not None:
            methods.append(self._current_request.method)
        if "POST" in methods:
            return True
        waiter = self._waiter
        if methods or self._messages or (waiter is not None and not waiter.done()):
            return False
        return None

    def end_of_input(self) -> None:
        """No more input: a body not all read (of the request being handled, or of one
        queued) never comes (``read_body``: ClientGoneError, a 400)."""
        bodies = [payload for _, payload in self._messages]
        if self._current_request is not None:
            bodies.append(self._current_request.content)
        for body in bodies:  # queued ones too (and limits_middleware: one between the two)
            _cut(body)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """Not for a body that could not be decoded: ``read_body`` answered it (400,
        counted ``bad_body``), and aiohttp, draining the rest of it after the answer, met
        the same error again and logged "Unhandled exception" with a traceback, in plain
        text among the JSON lines — per request. So for the pure-Python parser's own
        error (PayloadEncodingError), met by aiohttp's lingering read after a 401: a peer
        without the token wrote a traceback per request. So for a body cut by the
        client's end of input (``_EndOfInputError``), met again the same way."""
        if isinstance(kw.get("exc_info"), (*_BODY_ERRORS, _EndOfInputError)):
            return
        super().log_exception(*args, **kw)


class GuardedSite:
    """The listening socket of the HTTP port, each connection guarded."""

    def __init__(self, runner: web.AppRunner, host: str, port: int,
                 limits: ConnectionLimits) -> None:
        self._runner = runner
        self._host = host
        self._port = port
        self._limits = limits
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (aiohttp's ``runner.server`` is the protocol factory, as for TCPSite)."""
        factory = self._runner.server
        assert factory is not None, "runner.setup() first"
        limits = self._limits

        loop = asyncio.get_running_loop()
        # what factory() passes (runner options); content codings are undone by the app
        # (coding.py: aiohttp decided a gzip body cut before its trailer)
        options = {**factory._kwargs, "auto_decompress": False}  # noqa: SLF001

        def protocol() -> _Guarded:
            return _Guarded(limits, _RequestHandler(factory, limits.counts, loop=loop,
                                                    **options))

        # The listen backlog is max_connections (at least asyncio's 100; the kernel caps it
        # at net.core.somaxconn), as FastAGI's: a dialer opening a connection per check,
        # met while the loop is busy, had the handshakes past 100 dropped (a SYN
        # retransmitted only at 1 s: past the dialer's timeout, its call BLOCKed).
        backlog = max(_MIN_BACKLOG, self._limits.settings.max_connections)
        sock = dual_stack_listener(self._host, self._port)
        if sock is None:
            self._server = await loop.create_server(
                protocol, self._host, self._port, reuse_address=True, backlog=backlog)
        else:  # host "::": IPv4 clients too (asyncio alone would set IPV6_V6ONLY)
            self._server = await loop.create_server(protocol, sock=sock, backlog=backlog)

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening (the runner's cleanup closes the connections)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):  # 3.12+ waits for open connections
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

"""A TCP proxy in front of a real redis-server that drops a connection at a chosen moment.

A connection the server or the network closes while a command is in flight (a ``CLIENT
KILL`` racing the command, a firewall's idle timeout, a pulled cable) cannot be timed from
outside against a real server; this proxy times it: armed, it drops the next request with
its connection — before the server sees it, or after the server answered (the reply
withheld, as a command that ran but whose answer was lost).
"""

from __future__ import annotations

import asyncio
import contextlib


class RedisProxy:
    """Forwards 127.0.0.1:<port> to the server's port, byte for byte."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._armed: list[str] = []  # "before" or "after", per request to cut, in turn
        self.cut = 0  # requests cut so far
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """redis:// URL of the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut_next(self, *, after_reply: bool, times: int = 1) -> None:
        """Drop the next request of any client with its connection (the next ``times``
        requests, each on the connection that sends it): before it reaches the server, or
        once the server answered it (the reply never reaches the client)."""
        self._armed += ["after" if after_reply else "before"] * times

    async def aclose(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        withhold = asyncio.Event()

        async def to_server() -> None:
            while data := await reader.read(65536):
                mode = self._armed.pop(0) if self._armed else None
                if mode == "before":
                    self.cut += 1
                    return
                if mode == "after":
                    self.cut += 1
                    withhold.set()
                up_writer.write(data)
                await up_writer.drain()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if withhold.is_set():
                    return
                writer.write(data)
                await writer.drain()

        pumps = [asyncio.ensure_future(to_server()), asyncio.ensure_future(to_client())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for end in (writer, up_writer):
                end.close()
            self._tasks.discard(task)

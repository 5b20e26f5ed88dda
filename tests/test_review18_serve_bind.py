"""serve's early bind (review hrev18): a family the kernel has no sockets for is skipped,
as asyncio's create_server skips it (``BaseEventLoop.create_server``: "Assume it's a bad
family/type/protocol combination"). The probe raised EAFNOSUPPORT for ``host = ""`` on a
host booted with ipv6.disable=1: serve stopped with an internal error where it served
on IPv4 before. The kernel here has IPv6; only the AF_INET6 socket call is made to fail."""

from __future__ import annotations

import errno
import socket

import pytest

from callguard.cli import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_address_family_without_sockets_is_skipped(monkeypatch):
    real = socket.socket

    class NoInet6(real):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, *args: object, **kwargs: object) -> None:
            if family == socket.AF_INET6:
                raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
            super().__init__(family, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", NoInet6)
    serve._bind_once("", _free_port(), socket.SOCK_STREAM)  # IPv4 only: no error
    serve._bind_once("", _free_port(), socket.SOCK_DGRAM)


def test_a_port_in_use_is_still_refused():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use") as raised:
            serve._bind_once("127.0.0.1", taken.getsockname()[1], socket.SOCK_STREAM)
    assert raised.value.errno == errno.EADDRINUSE

"""Hostile clients of the supervisor pages of a real `callguard serve` (hhos15).

A query parameter given twice (``/supervisor/report?tz=UTC&tz=America/Denver``,
``/supervisor/events?verdict=ALLOW&verdict=BLOCK``) was read as its first value
(aiohttp's ``MultiDict.get``): the page answered 200 for one of two questions, a
supervisor's day counted in another zone than a script had asked for. Refused 400 naming
the parameter, as ``/v1/check`` refuses a repeated JSON key and the SIP front a repeated
header: none wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.serve_node import ServeNode, write_lists


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("http15") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


@pytest.mark.parametrize(("path", "named"), [
    ("/supervisor/report?tz=UTC&tz=America/Denver", "tz"),
    ("/supervisor/report?tz=UTC&tz=UTC", "tz"),
    ("/supervisor/events?verdict=ALLOW&verdict=BLOCK", "verdict"),
    ("/supervisor/events?campaign=a&campaign=b", "campaign"),
    ("/supervisor/events?rule=x&rule=y", "rule"),
    ("/supervisor/events?n=1&n=500", "n"),
])
def test_a_repeated_query_parameter_is_a_400_naming_it(node: ServeNode, path: str,
                                                       named: str) -> None:
    status, body = node.http(path, timeout=5)
    assert status == 400, body[:300]
    assert f"{named} given more than once" in json.loads(body)["error"]


def test_the_controls_are_answered(node: ServeNode) -> None:
    status, body = node.http("/supervisor/report?tz=America/Denver", timeout=10)
    assert status == 200, body[:300]
    assert node.http("/supervisor/report", timeout=10)[0] == 200

"""A list file refused for what it is (hadm23: a workbook, an archive; a UTF-16 copy cut
short) leaves the lists where they are, Redis included (hrev101): every key and value of
the shared store, and the data dir's list versions, byte for byte as before the refusal.
The refusal is raised while the file is parsed, before `_publish`; this holds it there.
Real redis-server on a free port, the CLI in a subprocess (its `--config` names Redis).
"""

from __future__ import annotations

import asyncio
import codecs
import zipfile
from pathlib import Path

from tests.redis_server import RedisServer
from tests.serve_node import AT_DATE, ServeNode
from tests.test_redis_lists import connect

LINES = "".join(f"80155501{i:02d}\n" for i in range(10, 60))


async def _store(url: str) -> dict[bytes, bytes | None]:
    """Every key of the store with its serialised value (DUMP)."""
    client = connect(url)
    try:
        return {key: await client.dump(key) async for key in client.scan_iter(count=1000)}
    finally:
        await client.aclose()


def _files(data: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*"))
            if p.is_file() and "lists" in p.parts}


def _refused(tmp: Path) -> list[Path]:
    book = tmp / "national.xlsx"
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("[Content_Types].xml", "<Types/>")
        zipped.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    archive = tmp / "national.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("national.txt", LINES)
        # two lists: one text list alone is read since hrea24 (session 27)
        zipped.writestr("ut-state.txt", LINES)
    wide = codecs.BOM_UTF16_BE + LINES.encode("utf-16-be")
    cut_odd = tmp / "national-cut-odd.txt"
    cut_odd.write_bytes(wide[:-1])  # a copy cut at an odd byte: its last line a NUL short
    slipped = tmp / "national-slipped.txt"
    slipped.write_bytes(wide[:41] + wide[42:])  # a byte lost mid-file: the rest misread
    return [book, archive, cut_odd, slipped]


def test_a_refused_list_file_touches_neither_redis_nor_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True)
        good = tmp_path / "national.txt"
        good.write_text(LINES)
        published = AT_DATE.isoformat()
        first = node.cli("dnc", "import", str(good), "--list", "national", "--published",
                         published, "--covers", "all")
        assert first.returncode == 0, first.stderr
        before, files = asyncio.run(_store(redis.url)), _files(node.data)
        assert before, "the import wrote nothing to Redis: the comparison would prove nothing"
        for path in _refused(tmp_path):
            for command in (["dnc", "import", str(path), "--list", "national"],
                            ["attributes", "import", str(path), "--kind", "wireless"]):
                refused = node.cli(*command, "--published", published, "--covers", "all")
                assert refused.returncode == 1, (path.name, command[0], refused.stderr)
                assert "nothing was imported" in " ".join(refused.stderr.split()), \
                    refused.stderr
            assert asyncio.run(_store(redis.url)) == before, path.name
            assert _files(node.data) == files, path.name
        # The comparison sees an import: the same file again is a new version.
        again = node.cli("dnc", "import", str(good), "--list", "national", "--published",
                         published, "--covers", "all")
        assert again.returncode == 0, again.stderr
        assert "national v2" in again.stderr, again.stderr
        assert asyncio.run(_store(redis.url)) != before
    finally:
        redis.stop()

"""Number attribute lists: real files imported, stored, verified, replicated and read.

Wireless / ported / litigator lists are bitmap list versions under ``attr-*`` names;
reassigned data is the dated codec (number -> last permanent disconnect). The policy side
(64.1200(a)(2) on wireless-or-unknown numbers, 64.1200(m), the dialer's ATDS status) is in
``callguard/data/jurisdictions/us-federal.tests.toml``; here the stores, the CLI and a scrub.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.compliance.reader import read_files
from callguard.errors import ListImportError, StoreError
from callguard.numbers import NumberParser
from callguard.stores.attributes import (
    AttributeKind,
    DatedSnapshot,
    kind_of,
    list_check,
    list_name,
    parse_dated_file,
)
from callguard.stores.attributes.dated import build_dated, decode_dated_chunk
from callguard.stores.embedded.lists import EmbeddedListRegistry, load_version, write_version
from callguard.stores.list_files import parse_list_file
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.test_cli import ALLOW, USAGE, cli, weekday_at
from tests.test_redis_lists import bounded, connect

PUBLISHED = date(2026, 11, 20)
PARSER = NumberParser(dial_prefixes=(), regions=frozenset({"US"}))


def reassigned_file(tmp_path, text):
    path = tmp_path / "reassigned.csv"
    path.write_text(text)
    return path


class TestDatedFile:
    """Reassigned-number files in the forms providers send."""

    def test_separators_date_forms_and_the_latest_date_kept(self, tmp_path):
        """Comma, tab and space separators, ISO and compact dates; a repeat keeps its latest."""
        parsed = parse_dated_file(reassigned_file(tmp_path, (
            "# number,last permanent disconnect\n"
            "801-555-0123,2025-03-01\n"
            "8015550124\t20260115\n"
            "+1 801 555 0125 2024-12-31\n"
            "8015550123,2026-02-01\n"
            "8015550123,2025-01-01\n")))
        assert parsed.count == 3
        assert parsed.bad == 0
        assert parsed.by_area[801][5550123] == (date(2026, 2, 1) - date(1970, 1, 1)).days

    def test_a_header_line_is_skipped_and_a_damaged_first_line_is_not(self, tmp_path):
        """'phone,disconnect_date' on the first line counted as malformed and a small file
        was refused whole; a first line with digits that is no number still counts."""
        rows = "8015550123,2026-02-01\n8015550124,2026-01-01\n"
        parsed = parse_dated_file(reassigned_file(tmp_path, "phone,disconnect_date\n" + rows))
        assert (parsed.lines, parsed.bad, parsed.count) == (2, 0, 2)
        assert parsed.header == "phone,disconnect_date"
        with pytest.raises(ListImportError, match="1 of 3 lines malformed"):
            parse_dated_file(reassigned_file(tmp_path, "801555012,2026-02-01\n" + rows))

    def test_too_many_bad_lines_refuse_the_file_with_redacted_examples(self, tmp_path):
        """A file mostly of bad dates is refused whole; the example does not hold the number."""
        path = reassigned_file(tmp_path, "8015550123,2026-02-31\n8015550124,2026-01-01\n")
        with pytest.raises(ListImportError) as caught:
            parse_dated_file(path)
        assert "1 of 2 lines malformed" in str(caught.value)
        assert "5550123" not in str(caught.value)


class TestDatedChunk:
    """The dated chunk codec: verified like a bitmap chunk, refused when altered."""

    def test_round_trip_and_lookup(self, tmp_path):
        parsed = parse_dated_file(reassigned_file(tmp_path, "8015550123,2026-02-01\n"
                                                            "8015550100,2025-05-05\n"))
        chunks, digests, counts = build_dated(parsed)
        chunk = decode_dated_chunk(chunks[801], digests[801], "npa 801", counts[801])
        assert list(chunk.numbers) == [5550100, 5550123]
        assert chunk.day_of(5550123) == (date(2026, 2, 1) - date(1970, 1, 1)).days
        assert chunk.day_of(5550124) is None

    def test_altered_chunk_refused(self, tmp_path):
        parsed = parse_dated_file(reassigned_file(tmp_path, "8015550123,2026-02-01\n"))
        chunks, digests, _ = build_dated(parsed)
        with pytest.raises(StoreError, match="SHA-256 mismatch"):
            decode_dated_chunk(chunks[801][:-1] + b"\x00", digests[801], "npa 801")
        with pytest.raises(StoreError, match="holds 1 numbers, its manifest says 2"):
            decode_dated_chunk(chunks[801], digests[801], "npa 801", 2)


    def test_unsorted_chunk_refused(self):
        """Binary search needs order: a chunk out of order is refused even with a good digest."""
        import hashlib
        import struct
        data = struct.pack("<4sI", b"CGD1", 2) + struct.pack("<II", 5550123, 5550100) + (
            struct.pack("<HH", 20000, 20001))
        with pytest.raises(StoreError, match="not sorted"):
            decode_dated_chunk(data, hashlib.sha256(data).hexdigest(), "npa 801", 2)


class TestEmbedded:
    """On disk: versions, verification and the lookup the gate makes."""

    def test_reassigned_version_written_loaded_and_read(self, tmp_path):
        parsed = parse_dated_file(reassigned_file(tmp_path, "8015550123,2026-02-01\n"))
        meta = write_version(tmp_path, "attr-reassigned", parsed, published=PUBLISHED,
                             area_codes=None, source="rnd.csv")
        assert meta.codec == "dated"
        assert (tmp_path / "lists" / "attr-reassigned" / "v1" / "npa-801.dated").is_file()
        snapshot = EmbeddedListRegistry(tmp_path).snapshot("attr-reassigned")
        assert isinstance(snapshot, DatedSnapshot)
        check = list_check("attr-reassigned", snapshot, PARSER.parse("8015550123"))
        assert check is not None
        assert (check.listed, check.disconnected, check.version) == (True, date(2026, 2, 1), 1)
        other = list_check("attr-reassigned", snapshot, PARSER.parse("8015550199"))
        assert other is not None
        assert (other.listed, other.disconnected) == (False, None)

    def test_damaged_dated_version_is_refused_and_the_older_one_served(self, tmp_path):
        for day in ("2026-01-01", "2026-02-01"):
            parsed = parse_dated_file(reassigned_file(tmp_path, f"8015550123,{day}\n"))
            write_version(tmp_path, "attr-reassigned", parsed, published=PUBLISHED,
                          area_codes=None, source="rnd.csv")
        chunk = tmp_path / "lists" / "attr-reassigned" / "v2" / "npa-801.dated"
        chunk.write_bytes(chunk.read_bytes()[:-2])
        registry = EmbeddedListRegistry(tmp_path)
        assert "SHA-256 mismatch" in registry.errors["attr-reassigned"]
        snapshot = registry.snapshot("attr-reassigned")
        assert isinstance(snapshot, DatedSnapshot)
        assert snapshot.meta.version == 1
        assert snapshot.disconnected(8015550123) == date(2026, 1, 1)

    def test_manifest_with_an_edited_codec_is_refused(self, tmp_path):
        parsed = parse_dated_file(reassigned_file(tmp_path, "8015550123,2026-02-01\n"))
        write_version(tmp_path, "attr-reassigned", parsed, published=PUBLISHED,
                      area_codes=None, source="rnd.csv")
        manifest = tmp_path / "lists" / "attr-reassigned" / "v1" / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"dated"', '"sqlite"'))
        with pytest.raises(StoreError, match="checksum"):
            load_version(tmp_path, "attr-reassigned", 1)

    def test_wireless_list_is_a_bitmap_list_read_through_the_same_fetch(self, tmp_path):
        source = tmp_path / "wireless.txt"
        source.write_text("8015550123\n3855550100\n")
        write_version(tmp_path, list_name(AttributeKind.WIRELESS), parse_list_file(source),
                      published=PUBLISHED, area_codes=frozenset({801, 385}), source="w")
        snapshot = EmbeddedListRegistry(tmp_path).snapshot("attr-wireless")
        listed = list_check("attr-wireless", snapshot, PARSER.parse("8015550123"))
        uncovered = list_check("attr-wireless", snapshot, PARSER.parse("4355550123"))
        assert listed is not None
        assert uncovered is not None
        assert (listed.listed, listed.covered, listed.disconnected) == (True, True, None)
        assert (uncovered.listed, uncovered.covered) == (False, False)
        assert kind_of("attr-wireless") is AttributeKind.WIRELESS
        assert kind_of("national") is None


class TestRedisReplica:
    """Reassigned data through a real redis-server: published, replicated, read."""

    async def test_dated_version_replicates(self, tmp_path, redis_server):
        client = connect(redis_server.url)
        follower = connect(redis_server.url)
        try:
            parsed = parse_dated_file(reassigned_file(tmp_path, "8015550123,2026-02-01\n"
                                                                "2125550100,2025-07-04\n"))
            meta = await bounded(RedisListPublisher(client).publish(
                "attr-reassigned", parsed, published=PUBLISHED, area_codes=None,
                source="rnd.csv"), "publish")
            assert meta.codec == "dated"
            registry = RedisListRegistry(follower)
            await bounded(registry.sync(), "sync")
            snapshot = registry.snapshot("attr-reassigned")
            assert isinstance(snapshot, DatedSnapshot)
            assert snapshot.disconnected(2125550100) == date(2025, 7, 4)
            assert snapshot.disconnected(2125550101) is None
            assert snapshot.meta.count == 2
        finally:
            await bounded(client.aclose(), "close")
            await bounded(follower.aclose(), "close")


class TestCli:
    """`callguard attributes import | status` in a subprocess."""

    def test_import_every_kind_and_status(self, tmp_path):
        numbers = tmp_path / "numbers.txt"
        numbers.write_text("8015550123\n8015550124\n")
        today = datetime.now(UTC).date().isoformat()
        for kind in ("wireless", "ported-wireless", "ported-wireline", "litigator"):
            result = cli("attributes", "import", str(numbers), "--kind", kind,
                         "--published", today, data_dir=tmp_path)
            assert result.returncode == ALLOW, result.stderr
            assert f"published attr-{kind} v1" in result.stderr
        dated = reassigned_file(tmp_path, "8015550123,2026-02-01\n")
        result = cli("attributes", "import", str(dated), "--kind", "reassigned",
                     "--published", today, data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stderr
        status = json.loads(cli("attributes", "status", "--json", data_dir=tmp_path).stdout)
        rows = {row["kind"]: row for row in status["attributes"]}
        assert rows["reassigned"]["codec"] == "dated"
        assert rows["wireless"]["count"] == 2
        assert all(row["loaded"] for row in rows.values())
        assert "8015550123" not in json.dumps(status)

    def test_each_import_is_in_the_compliance_log_and_a_missing_file_is_a_usage_error(
            self, tmp_path):
        """A decision names `attr-wireless v3`; `dnc import` logged when each version came
        (`list-change`), `attributes import` did not. And a missing file was exit 1
        ("refused: no such file") where `dnc import` says exit 2; a directory was "no such
        file" too."""
        numbers = tmp_path / "numbers.txt"
        numbers.write_text("8015550123\n8015550123\n8015550124\n")
        today = datetime.now(UTC).date().isoformat()
        result = cli("attributes", "import", str(numbers), "--kind", "wireless",
                     "--published", today, data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stderr
        assert "covering 1 area code(s) (seen in the file)" in " ".join(result.stderr.split())
        dated = reassigned_file(tmp_path, "8015550123,2026-02-01\n")
        assert cli("attributes", "import", str(dated), "--kind", "reassigned", "--published",
                   today, "--covers", "all", data_dir=tmp_path).returncode == ALLOW
        changes = [json.loads(line) for line in
                   (tmp_path / "compliance.jsonl").read_text().splitlines()]
        assert [(c["event"], c["action"], c["list"], c["version"], c["covers"])
                for c in changes] == [
            ("list-change", "publish", "attr-wireless", 1, [801]),
            ("list-change", "publish", "attr-reassigned", 1, "all")]
        assert changes[0]["duplicates"] == 1
        assert "8015550123" not in (tmp_path / "compliance.jsonl").read_text()
        for missing in (tmp_path / "nope.txt", tmp_path):
            refused = cli("attributes", "import", str(missing), "--kind", "wireless",
                          "--published", today, data_dir=tmp_path)
            assert refused.returncode == USAGE, refused.stderr

    def test_reserved_names_refused_by_dnc_import(self, tmp_path):
        numbers = tmp_path / "numbers.txt"
        numbers.write_text("8015550123\n")
        result = cli("dnc", "import", str(numbers), "--list", "attr-reassigned",
                     "--published", "2026-11-01", data_dir=tmp_path)
        assert result.returncode == USAGE
        assert "callguard attributes import" in result.stderr


def _leads(path, count, seed=18):
    """A lead file as a CRM exports it: mixed number formats, ZIP codes, Utah numbers."""
    rng = random.Random(seed)
    numbers = rng.sample(range(5550000, 5559999), count)
    areas = [801, 385, 435]
    rows = []
    for index, line in enumerate(numbers):
        area = areas[index % 3]
        digits = f"{area}{line}"
        shown = [digits, f"({area}) {str(line)[:3]}-{str(line)[3:]}",
                 f"+1 {area}-{str(line)[:3]}-{str(line)[3:]}"][index % 3]
        rows.append((f"lead {index}", shown, "84101", digits))
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "phone", "zip"])
        writer.writerows(row[:3] for row in rows)
    return [row[3] for row in rows]


def _base_dir(root, dnc):
    root.mkdir()
    today = datetime.now(UTC).date().isoformat()
    listing = root / "dnc.txt"
    listing.write_text("".join(f"{n}\n" for n in dnc))
    for name in ("national", "ut-state"):
        cli("dnc", "import", str(listing), "--list", name, "--published", today,
            "--covers", "all", data_dir=root, check=True)
    return root


class TestScrubWithWirelessData:
    """402 leads for a predictive campaign, with and without wireless data, side by side."""

    def test_landlines_become_callable_and_each_allow_is_justified(self, tmp_path):
        leads = tmp_path / "leads.csv"
        numbers = _leads(leads, 402)
        rng = random.Random(7)
        wireless = set(rng.sample(numbers, 241))  # ~60 % wireless, as in US lead files
        ported = set(rng.sample(sorted(set(numbers) - wireless), 20))  # landline -> mobile
        dnc = set(rng.sample(numbers, 30))
        landlines = set(numbers) - wireless - ported
        without = _base_dir(tmp_path / "without", dnc)
        with_data = tmp_path / "with"
        shutil.copytree(without, with_data)
        today = datetime.now(UTC).date()
        for kind, members in (("wireless", wireless), ("ported-wireless", ported)):
            path = tmp_path / f"{kind}.txt"
            path.write_text("".join(f"{n}\n" for n in sorted(members)))
            cli("attributes", "import", str(path), "--kind", kind, "--published",
                today.isoformat(), "--covers", "all", data_dir=with_data, check=True)
        stale = tmp_path / "stale"
        shutil.copytree(without, stale)
        for kind in ("wireless", "ported-wireless"):
            path = tmp_path / f"{kind}.txt"
            cli("attributes", "import", str(path), "--kind", kind, "--published",
                (today - timedelta(days=20)).isoformat(), "--covers", "all",
                data_dir=stale, check=True)
        at = weekday_at(11).isoformat()
        results = {}
        for label, data in (("without", without), ("with", with_data), ("stale", stale)):
            out = tmp_path / f"{label}.csv"
            run = cli("scrub", str(leads), "--campaign", "ut-solar-predictive", "--at", at,
                      "--output", str(out), data_dir=data)
            assert run.returncode == 0, run.stderr
            results[label] = list(csv.DictReader(out.open()))
        allowed = {label: [r for r in rows if r["callguard_verdict"] == "ALLOW"]
                   for label, rows in results.items()}
        # Without data (and with stale data: fail closed) every lead is possibly wireless.
        assert allowed["without"] == []
        assert allowed["stale"] == []
        dnc_e164 = {PARSER.parse(n).e164 for n in dnc}
        stale_rules = {r["callguard_rule"] for r in results["stale"]
                       if PARSER.parse(r["phone"]).e164 not in dnc_e164}
        assert stale_rules == {"us-federal:64.1200(a)(2)"}
        assert "is 2" in next(r["callguard_reason"] for r in results["stale"]
                              if PARSER.parse(r["phone"]).e164 not in dnc_e164)
        expected = {PARSER.parse(n).e164 for n in landlines - dnc}
        got = {PARSER.parse(r["phone"]).e164 for r in allowed["with"]}
        assert got == expected
        assert len(got) == len(landlines - dnc) > 100
        for row in allowed["with"]:
            assert "attr-wireless v1" in row["callguard_lists"]
            assert "attr-ported-wireless v1" in row["callguard_lists"]
        # Every ALLOW's compliance record names the wireless lists read and carries the
        # 64.1200(a)(2) exemption with its reason.
        records = {r["decision_id"]: r for r in read_files(with_data / "compliance.jsonl")
                   if r.get("event") == "decision"}
        for row in allowed["with"]:
            record = records[row["callguard_decision_id"]]
            assert record["verdict"] == "ALLOW"
            assert record["lists"]["attr-wireless"] == 1
            assert record["lists"]["attr-ported-wireless"] == 1
            exempt = [o for o in record["outcomes"] if o["rule"] == "us-federal:64.1200(a)(2)"]
            assert exempt
            assert exempt[0]["status"] == "exempt"
            assert "not a wireless number" in exempt[0]["reason"]

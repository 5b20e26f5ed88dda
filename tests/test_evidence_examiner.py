"""A compliance officer's questions after a complaint, asked of what real processes wrote.

Found by an examiner (session 17) on a data set made through `callguard serve`: two nodes,
one stream, one archiver, consent granted and revoked, an EBR, a company do-not-call entry.

- Once archived, `evidence NUMBER --from/--to` of the day an HTTP check named in ``at``
  (a month before it was asked) answered "none", exit 0; `report` of that day did not
  count it, archived or not (in the unfiltered report, in no ranged one).
- `evidence --decision ID` said no consent, EBR or do-not-call record stood before the
  decision (``records_in_force: []``, "records before 0") when a consent had been given
  and revoked; `evidence NUMBER --from` dropped the records logged before ``--from`` from
  the records in force.
- The evidence page did not show the records in force at all; `archive` said "archived 0"
  over an unrotated file; `report` counted twice a record both in the node's own file and
  in a compacted day of the stream's archive.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callguard.compliance.segments import stamp_name
from tests.serve_node import ServeNode, write_lists
from tests.test_supervisor_page import browser  # noqa: F401 - the headless chromium

NUMBER = "8015550123"


def _close_and_archive(node: ServeNode) -> None:
    """The current file closed (as the writer rotates it) and archived, every day compacted."""
    log = node.data / "compliance.jsonl"
    log.rename(stamp_name(log, datetime.now(UTC)))
    archived = node.cli("archive", "--compact-all", "--json")
    assert archived.returncode == 0, archived.stderr


def _report(node: ServeNode, *window: str) -> int:
    result = node.cli("report", "--json", *window)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["calls"])


def _evidence(node: ServeNode, *args: str) -> dict:
    result = node.cli("evidence", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("archiver", ["file", "stream"])
def test_a_range_finds_an_http_check_about_another_day(tmp_path: Path, archiver: str,
                                                       redis_server) -> None:
    """Two HTTP checks through a real `serve`: one now, one about 11:00 a month ago (a call
    is dated by its instant ``at``). Once archived, `evidence --from/--to` of that day
    answered "none", exit 0: it read only the archive's days around the range, and the
    archive's days are the days records were logged. Each decision is in exactly one of
    two ranges that cover all time, before and after archiving — the node's segment
    (``file``), or the stream by an archiver on the node, whose file is then read beside
    the archive that holds its records too (``stream``: counted once)."""
    node = ServeNode(tmp_path, redis_url=redis_server.url, redis_stream=archiver == "stream")
    write_lists(node.data, [])
    node.start()
    try:
        month_ago = (datetime.now(UTC) - timedelta(days=30)).date()
        for body in ({"number": NUMBER, "campaign": "ut-solar-manual",
                      "at": f"{month_ago.isoformat()}T11:00:00-07:00"},
                     {"number": NUMBER, "campaign": "ut-solar-manual"}):
            status, answer = node.json("/v1/check", body)
            assert status == 200, answer
    finally:
        node.stop()
    cut = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    that_day = ("--from", month_ago.isoformat(),
                "--to", (month_ago + timedelta(days=1)).isoformat())
    for archived in (False, True):
        if archived and archiver == "file":
            _close_and_archive(node)
        elif archived:
            done = node.cli("archive", "--stream", "--compact-all", "--json")
            assert json.loads(done.stdout)["decisions"] == 2, done.stderr
        assert len(_evidence(node, NUMBER)["decisions"]) == 2
        found = (len(_evidence(node, NUMBER, "--to", cut)["decisions"]),
                 len(_evidence(node, NUMBER, "--from", cut)["decisions"]),
                 len(_evidence(node, NUMBER, *that_day)["decisions"]))
        assert found == (1, 1, 1), (archived, found)
        # the report of the same ranges: it read the days around the range (archived)
        # and the unarchived records logged up to two days after it
        since_that_day = ("--since", that_day[1], "--until", that_day[3])
        reported = (_report(node, "--until", cut), _report(node, "--since", cut),
                    _report(node, *since_that_day))
        assert reported == (1, 1, 1), (archived, reported)


def test_records_in_force_whatever_the_range_or_one_decision(tmp_path: Path) -> None:
    """Consent given, a decision, a do-not-call request, a decision: the second decision's
    records in force are both changes, asked by number, by number from the second
    decision on, and by its id alone; the first's is the consent — live and archived."""
    node = ServeNode(tmp_path)
    write_lists(node.data, [])

    def check() -> dict:
        result = node.cli("check", NUMBER, "--campaign", "ut-solar-manual", "--json")
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout)

    assert node.cli("consent", "add", NUMBER, "--solicitor", "beehive-solar", "--kind",
                    "written", "--source", "web form").returncode == 0
    first = check()
    assert node.cli("internal-dnc", "add", NUMBER, "--solicitor",
                    "beehive-solar").returncode == 0
    second = check()
    assert second["verdict"] == "BLOCK"

    def in_force(document: dict, decision: dict) -> list[str]:
        (found,) = [d for d in document["decisions"]
                    if d["decision_id"] == decision["decision_id"]]
        return [r["action"] for r in found["records_in_force"]]

    both = ["consent-added", "company-dnc-added"]
    for archived in (False, True):
        if archived:
            _close_and_archive(node)
        everything = _evidence(node, NUMBER)
        assert in_force(everything, first) == ["consent-added"]
        assert in_force(everything, second) == both
        logged = next(d["logged_at"] for d in everything["decisions"]
                      if d["decision_id"] == second["decision_id"])
        later = _evidence(node, NUMBER, "--from", logged)
        assert [d["decision_id"] for d in later["decisions"]] == [second["decision_id"]]
        assert in_force(later, second) == both, archived
        assert later["record_changes"] == []  # the range lists no change; both stood
        for decision, expected in ((first, ["consent-added"]), (second, both)):
            alone = _evidence(node, "--decision", decision["decision_id"])
            assert in_force(alone, decision) == expected, archived


def test_archive_says_the_current_file_waits_for_its_rotation(tmp_path: Path) -> None:
    """A node's log with records and no rotation yet: `archive` archived 0 and said
    nothing of the file, as if there were nothing to archive."""
    from tests.log_files import cli, config

    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                datetime.now(UTC).isoformat(), config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    size = (data / "compliance.jsonl").stat().st_size
    said = cli("archive", config_path=path)
    assert said.returncode == 0, said.stderr
    assert "archived 0 decision(s)" in said.stdout
    assert f"not archived yet: the current file {data / 'compliance.jsonl'} ({size} bytes)" \
        in said.stdout
    assert "rotate_mb = 100" in said.stdout
    figures = json.loads(cli("archive", "--json", config_path=path).stdout)
    assert (figures["decisions"], figures["current_file_bytes"]) == (0, size)


def test_the_page_shows_the_records_in_force_beside_each_decision(tmp_path: Path,
                                                                   browser) -> None:  # noqa: F811
    """The page handed to counsel listed decisions and record changes apart, and not
    which records stood when each decision was made (JSON had them, the page did not)."""
    from selenium.webdriver.common.by import By

    node = ServeNode(tmp_path)
    write_lists(node.data, [])
    before = node.cli("check", NUMBER, "--campaign", "ut-solar-manual", "--json")
    assert node.cli("consent", "add", NUMBER, "--solicitor", "beehive-solar", "--kind",
                    "written").returncode == 0
    after = node.cli("check", NUMBER, "--campaign", "ut-solar-manual", "--json")
    page = tmp_path / "evidence.html"
    written = node.cli("evidence", NUMBER, "--format", "html", "--output", str(page))
    assert written.returncode == 0, written.stderr
    browser.get(page.as_uri())
    table = browser.find_elements(By.TAG_NAME, "table")[0]
    heads = [h.text for h in table.find_elements(By.TAG_NAME, "th")]
    column = heads.index("records in force (changes logged before it)")
    cells = {row.find_elements(By.TAG_NAME, "td")[3].text:
             row.find_elements(By.TAG_NAME, "td")[column].text
             for row in table.find_elements(By.TAG_NAME, "tr")[1:]}
    assert cells[json.loads(before.stdout)["decision_id"]] == "none"
    cell = cells[json.loads(after.stdout)["decision_id"]]
    assert "Z consent-added (written) [" in cell, cell


def test_a_node_that_archives_the_stream_counts_its_own_file_once(tmp_path: Path,
                                                                  redis_server) -> None:
    """The archiver runs on a deciding node (`archive --stream`): its own log file is
    never named by the manifest, so `report` reads it as unarchived beside the archive.
    Once the day was compacted, its records were counted twice (deduplicated only against
    days not compacted yet): 3 calls reported as 6."""
    from tests.log_files import cli, config

    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    text = path.read_text().replace("redis_stream = false", "redis_stream = true")
    path.write_text(text.replace('url = "redis://127.0.0.1:6379/0"',
                                 f'url = "{redis_server.url}"'))
    for number in ("8015550123", "8015550124", "4355550142"):
        asked = cli("check", number, "--campaign", "ut-solar-manual", "--at",
                    datetime.now(UTC).isoformat(), config_path=path)
        assert asked.returncode in (0, 1), asked.stderr

    def reported() -> tuple[int, int]:
        result = cli("report", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout)
        # `check --at` answers: questions, no calls (schema 2's places_call, officer 18)
        return figures["decisions"], figures["questions"]

    archived = cli("archive", "--stream", "--json", config_path=path)
    assert json.loads(archived.stdout)["decisions"] == 3, archived.stderr
    assert reported() == (3, 3)  # the day not compacted: deduplicated (as before)
    compacted = cli("archive", "--stream", "--compact-all", "--json", config_path=path)
    assert json.loads(compacted.stdout)["compacted_days"] == 1, compacted.stderr
    assert reported() == (3, 3)
    found = cli("evidence", "8015550123", "--json", config_path=path)
    assert len(json.loads(found.stdout)["decisions"]) == 1

"""The real `callguard` command in a subprocess: exit codes, JSON, garbage in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import ROOT

ALLOW, BLOCK, USAGE = 0, 1, 2
# `check` about now gets no answer while the kernel says the clock is unsynchronised (as
# on this test machine): tests not about the clock ask about a stated instant, now.
NOW = ("--at", datetime.now(UTC).isoformat(timespec="seconds"))


def cli(*args, data_dir, check=False):
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("CALLGUARD_CONFIG", None)
    result = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=60, check=check)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data dir with both lists published 'today' so freshness holds for --at near now."""
    root = tmp_path_factory.mktemp("cli")
    listing = root / "list.txt"
    listing.write_text("8015550199\n")
    today = datetime.now(UTC).date().isoformat()
    for name in ("national", "ut-state"):
        cli("dnc", "import", str(listing), "--list", name, "--published", today,
            "--covers", "all", data_dir=root, check=True)
    return root


_FIXED_HOLIDAYS = {(1, 1), (6, 19), (7, 4), (7, 24), (11, 11), (12, 25)}


def weekday_at(hour):
    """The next Wednesday at ``hour`` Denver time (MST/MDT offset from zoneinfo) that is no
    fixed-date Utah or federal holiday (a rest day would BLOCK the call)."""
    from zoneinfo import ZoneInfo
    day = datetime.now(UTC).date() + timedelta(days=1)
    while day.weekday() != 2 or (day.month, day.day) in _FIXED_HOLIDAYS:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("America/Denver"))


def wednesday_this_quarter() -> date:
    """A Wednesday (no fixed-date holiday) in today's calendar quarter, on which a list copy
    published today or earlier in the quarter is still Florida's current quarterly listing
    (us-fl:501.059(4):freshness, superseded on 1 January, April, July and October): the
    next one if the quarter has it, else the last one before today."""
    today = datetime.now(UTC).date()
    ahead = weekday_at(11).date()
    if (ahead.month - 1) // 3 == (today.month - 1) // 3 and ahead.year == today.year:
        return ahead
    day = today
    while day.weekday() != 2 or (day.month, day.day) in _FIXED_HOLIDAYS:
        day -= timedelta(days=1)
    return day


class TestCheck:
    """`callguard check` exit codes and JSON."""

    def test_allow_json(self, data_dir):
        """Exit 0 and the documented fields."""
        at = weekday_at(11).isoformat()
        result = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at", at,
                     "--json", data_dir=data_dir)
        assert result.returncode == ALLOW, result.stdout + result.stderr
        data = json.loads(result.stdout)
        assert data["verdict"] == "ALLOW"
        assert data["rule"] is None
        assert data["citations"] == []
        assert data["time_zones"] == ["America/Denver"]
        assert {p["id"] for p in data["packs"]} == {"us-federal", "us-fl", "us-md", "us-ok",
                                                    "us-ut", "us-ut-hb45-2000"}
        for key in ("reason", "decision_id"):
            assert data[key]

    def test_block_json_names_rule_and_citations(self, data_dir):
        """Exit 1; rule and every blocking rule's citation."""
        result = cli("check", "8015550199", "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--json", data_dir=data_dir)
        assert result.returncode == BLOCK
        data = json.loads(result.stdout)
        assert data["rule"] == "us-federal:64.1200(c)(2)"
        assert "47 CFR 64.1200(c)(2); 16 CFR 310.4(b)(1)(iii)(B)" in data["citations"]
        # 64.1200(c)(2), 13-25a-108, and H.B. 45's 106(1)(g) and 105(3) (the Utah part of
        # the national registry is part of the bill's list)
        assert len(data["citations"]) == 4

    def test_human_output(self, data_dir):
        """Rich output names the verdict and the rule."""
        result = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                     weekday_at(8).isoformat(), data_dir=data_dir)
        assert result.returncode == BLOCK
        assert "BLOCK" in result.stdout
        assert "13-26a-106(1)(f)" in result.stdout

    def test_tz_and_postal_code(self, data_dir):
        """CRM location widens the candidate zones."""
        result = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--postal-code", "10001", "--json",
                     data_dir=data_dir)
        assert set(json.loads(result.stdout)["time_zones"]) == {"America/Denver",
                                                                "America/New_York"}

    @pytest.mark.parametrize("number", ["", "letters", "123", "12345678901234567890"])
    def test_garbage_number_is_a_block(self, data_dir, number):
        """An invalid number is a BLOCK with a reason (exit 1)."""
        result = cli("check", number, "--campaign", "ut-solar-manual", "--json", *NOW,
                     data_dir=data_dir)
        assert result.returncode == BLOCK
        data = json.loads(result.stdout)
        assert data["rule"] == "callguard:number-not-dialable"

    @pytest.mark.parametrize(("args", "message"), [
        (["--campaign", "nope"], "unknown campaign 'nope'"),
        (["--campaign", "ut-solar-manual", "--at", "yesterday"], "not an ISO-8601"),
        (["--campaign", "ut-solar-manual", "--at", "2026-07-22T11:00:00"], "no UTC offset"),
        (["--campaign", "ut-solar-manual", "--mode", "robot"], "Invalid value"),
        (["--campaign", "ut-solar-manual", "--tz", "America/Denver", "--postal-code", "84101"],
         "not both"),
    ])
    def test_usage_errors_exit_2(self, data_dir, args, message):
        """Unknown campaign, malformed date: exit 2 and a message, no traceback."""
        result = cli("check", "8015550123", *args, data_dir=data_dir)
        assert result.returncode == USAGE
        assert message in result.stderr

    def test_bad_config_is_a_usage_error(self, data_dir, tmp_path):
        """A broken configuration names the key to fix."""
        bad = tmp_path / "bad.toml"
        packs = ROOT / "callguard" / "data" / "jurisdictions"
        bad.write_text(f"[callguard]\npacks_dir = '{packs}'\nenabled_packs = ['us-mars']\n")
        result = cli("--config", str(bad), "check", "8015550123", "--campaign", "x",
                     data_dir=data_dir)
        assert result.returncode == USAGE
        assert "us-mars" in result.stderr

    def test_serve_without_the_ami_secret_is_a_usage_error(self, data_dir, tmp_path,
                                                           monkeypatch):
        """[ami] enabled and no secret anywhere: exit 2 before serving, naming both ways."""
        config = tmp_path / "ami.toml"
        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
            'packs_dir = "jurisdictions"', 'packs_dir = ""')
        section = text.index("[ami]")
        enabled = text.index("enabled = false", section)
        config.write_text(text[:enabled] + "enabled = true" + text[enabled + 15:])
        monkeypatch.delenv("CALLGUARD_AMI_SECRET", raising=False)
        result = cli("--config", str(config), "serve", data_dir=data_dir)
        assert result.returncode == USAGE, result.stderr
        assert "CALLGUARD_AMI_SECRET" in result.stderr
        assert "[ami] secret_file" in result.stderr

    def test_serve_on_a_port_in_use_is_a_usage_error_naming_it(self, data_dir, tmp_path):
        """Another process holds the FastAGI port: 'internal error: OSError' (exit 3)
        said nothing of which front or which setting; exit 2 names both."""
        import socket

        from tests.redis_server import free_port

        port = free_port()
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        try:
            config = tmp_path / "busy.toml"
            text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
                'packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
                "port = 4573", f"port = {port}")
            config.write_text(text)
            result = cli("--config", str(config), "serve", data_dir=data_dir)
        finally:
            holder.close()
        assert result.returncode == USAGE, result.stderr
        assert "internal error" not in result.stderr
        assert f"127.0.0.1:{port}" in result.stderr
        assert "[fastagi] port" in result.stderr
        assert "in use" in result.stderr

    def test_serve_that_cannot_listen_writes_no_packs_loaded_record(self, tmp_path,
                                                                   monkeypatch):
        """Session 16: a port in use stopped ``serve`` only after the packs-loaded record
        ("this node judges calls with these packs") was written durable, for a node that
        never listened. Every front's address is bound before anything is recorded."""
        import socket

        from tests.redis_server import free_port

        fastagi, http = free_port(), free_port()
        holder = socket.socket()
        holder.bind(("127.0.0.1", http))
        holder.listen()
        data = tmp_path / "data"
        data.mkdir()
        try:
            config = tmp_path / "busy-http.toml"
            text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
                'packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
                "port = 4573", f"port = {fastagi}").replace(
                "enabled = false\nhost = \"127.0.0.1\"\nport = 8080",
                f"enabled = true\nhost = \"127.0.0.1\"\nport = {http}")
            assert f"port = {http}" in text
            config.write_text(text)
            monkeypatch.setenv("CALLGUARD_HTTP_TOKEN", "t" * 32)
            result = cli("--config", str(config), "serve", data_dir=data)
        finally:
            holder.close()
        assert result.returncode == USAGE, result.stderr
        assert f"127.0.0.1:{http}" in result.stderr
        assert "[http] port" in result.stderr
        log = data / "compliance.jsonl"
        assert not log.exists() or b"packs-loaded" not in log.read_bytes()

    def test_a_data_dir_that_is_a_file_is_a_usage_error(self, tmp_path):
        afile = tmp_path / "not-a-dir"
        afile.write_text("")
        result = cli("check", "8015550123", "--campaign", "ut-solar-manual", data_dir=afile)
        assert result.returncode == USAGE, result.stderr
        assert "internal error" not in result.stderr
        assert "not a directory" in result.stderr


class TestRecords:
    """Record commands reach the same store the gate reads."""

    def test_internal_dnc_then_check_blocks(self, tmp_path, data_dir):
        """`internal-dnc add` via one campaign blocks the solicitor's other campaign."""
        cli("internal-dnc", "add", "801-555-0142", "--campaign", "ut-solar-manual",
            data_dir=data_dir, check=True)
        result = cli("check", "8015550142", "--campaign", "ut-solar-predictive", "--mode",
                     "manual", "--at", weekday_at(11).isoformat(), "--json", data_dir=data_dir)
        assert json.loads(result.stdout)["rule"] == "us-federal:64.1200(d)(3)"

    def test_consent_add_and_revoke(self, data_dir):
        """Written consent allows predictive; revocation takes effect at once."""
        args = ("check", "8015550143", "--campaign", "ut-solar-predictive", "--at",
                weekday_at(11).isoformat(), "--json")
        assert cli(*args, data_dir=data_dir).returncode == BLOCK
        cli("consent", "add", "8015550143", "--campaign", "ut-solar-predictive", "--kind",
            "written", "--granted", "2026-01-01T00:00:00Z", data_dir=data_dir, check=True)
        assert cli(*args, data_dir=data_dir).returncode == ALLOW
        cli("consent", "revoke", "8015550143", "--campaign", "ut-solar-predictive", "--kind",
            "written", data_dir=data_dir, check=True)
        assert cli(*args, data_dir=data_dir).returncode == BLOCK

    def test_consent_ending_before_it_was_given_is_refused(self, data_dir):
        result = cli("consent", "add", "8015550145", "--campaign", "ut-solar-predictive",
                     "--kind", "written", "--granted", "2026-03-01T00:00:00Z", "--expires",
                     "2026-02-01", data_dir=data_dir)
        assert result.returncode == USAGE
        assert "not after it was given" in result.stderr
        shown = cli("consent", "show", "8015550145", "--campaign", "ut-solar-predictive",
                    "--json", data_dir=data_dir)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["consents"] == []  # nothing was recorded

    def test_consent_already_expired_is_recorded_with_a_warning(self, data_dir):
        """Kept as evidence of what was consented then; it allows no call now."""
        result = cli("consent", "add", "8015550146", "--campaign", "ut-solar-predictive",
                     "--kind", "written", "--granted", "2025-01-01T00:00:00Z", "--expires",
                     "2025-06-30", data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        assert "already expired" in result.stderr
        args = ("check", "8015550146", "--campaign", "ut-solar-predictive", "--at",
                weekday_at(11).isoformat(), "--json")
        assert cli(*args, data_dir=data_dir).returncode == BLOCK
        fresh = cli("consent", "add", "8015550147", "--campaign", "ut-solar-predictive",
                    "--kind", "written", data_dir=data_dir)
        assert fresh.returncode == 0
        assert "expired" not in fresh.stderr

    def test_ebr_add_requires_exactly_one_date(self, data_dir):
        """Both or neither date is a usage error."""
        result = cli("ebr", "add", "8015550144", "--campaign", "ut-solar-manual",
                     data_dir=data_dir)
        assert result.returncode == USAGE
        ok = cli("ebr", "add", "8015550144", "--campaign", "ut-solar-manual",
                 "--last-transaction", "2026-01-02", data_dir=data_dir)
        assert ok.returncode == 0

    def test_dnc_status_json_has_no_numbers(self, data_dir):
        """Status shows counts and versions, never the listed numbers (106(1)(i))."""
        result = cli("dnc", "status", "--json", data_dir=data_dir)
        data = json.loads(result.stdout)
        assert {row["list"] for row in data["lists"]} == {"national", "ut-state"}
        assert "5550199" not in result.stdout

    def test_refused_import_exits_nonzero(self, tmp_path):
        """A file over the bad-line limit is refused whole."""
        bad = tmp_path / "bad.txt"
        # not on the first line: a first line of letters alone is read as a header
        bad.write_text("8015550101\ngarbage\n")
        result = cli("dnc", "import", str(bad), "--list", "national", "--published",
                     "2026-07-01", data_dir=tmp_path)
        assert result.returncode == BLOCK
        assert "nothing was imported" in result.stderr
        assert not (tmp_path / "lists" / "national").exists()
        # Session 16: the refusal gave the counts and the limit, not the option that moves
        # it: an admin could not tell how to proceed.
        assert "--max-bad-share" in result.stderr
        again = cli("dnc", "import", str(bad), "--list", "national", "--published",
                    "2026-07-01", "--max-bad-share", "0.5", data_dir=tmp_path)
        assert again.returncode == 0, again.stderr

    def test_a_tiny_file_with_a_header_is_imported_and_the_header_said(self, tmp_path):
        """'AreaCode,PhoneNumber' then three numbers was refused whole: 1 of 4 lines
        malformed, over the 0.1% limit."""
        listing = tmp_path / "ut.csv"
        listing.write_text("AreaCode,PhoneNumber\n801,5550101\n801,5550102\n385,5550103\n")
        result = cli("dnc", "import", str(listing), "--list", "ut-state", "--published",
                     "2026-07-01", "--covers", "all", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "3 numbers" in result.stderr
        assert "0 malformed line(s)" in result.stderr
        assert "first line read as a header and skipped: 'AreaCode,PhoneNumber'" in result.stderr


@pytest.mark.parametrize("covers", ["305,786", "seen"])
def test_a_partial_copy_of_the_florida_listing_is_refused(tmp_path, covers):
    """fl-state places its people in Florida whatever their area code (us-fl's scope reads
    it): a copy covering some area codes left a Floridian's 212 mobile 'not covered', out of
    Florida's scope, and its call ALLOWed (hrev34). Refused, nothing imported."""
    listing = tmp_path / "fl.txt"
    listing.write_text("3055550101\n2125550143\n")
    result = cli("dnc", "import", str(listing), "--list", "fl-state", "--published",
                 "2026-07-01", "--covers", covers, data_dir=tmp_path)
    assert result.returncode != 0
    assert "covers 'all'" in result.stderr
    assert not (tmp_path / "lists" / "fl-state").exists()
    ok = cli("dnc", "import", str(listing), "--list", "fl-state", "--published",
             "2026-07-01", "--covers", "all", data_dir=tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_record_commands_read_no_list_file(tmp_path):
    """Recording a consent opens no list: a damaged list version (which every decision
    refuses, aloud) is not even read by `consent add` or `purge`; `check` meets it."""
    listing = tmp_path / "national.txt"
    listing.write_text("8015550199\n")
    cli("dnc", "import", str(listing), "--list", "national", "--published",
        datetime.now(UTC).date().isoformat(), "--covers", "all", data_dir=tmp_path,
        check=True)
    (chunk,) = (tmp_path / "lists" / "national" / "v1").glob("npa-*")
    chunk.write_bytes(b"damaged")
    done = cli("consent", "add", "8015550142", "--kind", "written", "--campaign",
               "ut-solar-manual", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "list_version_refused" not in done.stderr
    purged = cli("purge", "--older-than", "3650", "--yes", data_dir=tmp_path)
    assert purged.returncode == 0, purged.stderr
    assert "list_version_refused" not in purged.stderr
    decided = cli("check", "8015550199", "--campaign", "ut-solar-manual", *NOW,
                  data_dir=tmp_path)
    assert "list_version_refused" in decided.stderr


def test_demo_shows_allow_and_block(tmp_path):
    """The newcomer's first command shows both verdicts with reasons."""
    result = cli("demo", "--data-dir", str(tmp_path / "demo"), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ALLOW" in result.stdout
    assert "BLOCK" in result.stdout
    assert "64.1200(c)(2)" in result.stdout
    # a list without malformed lines says so without a colon followed by nothing
    assert "ut-state v1: 2 numbers, 0 malformed line(s) reported\n" in result.stdout
    assert "line 9: 'this line is malformed on purpose" in result.stdout


def test_demo_never_writes_into_a_nodes_data_dir(tmp_path):
    """`demo --data-dir` aimed at a node's data dir published the demo's six-number
    national list as the current version (a serving node reloads it) and wrote demo
    consent into its records. It refuses any directory it did not make; a demo
    directory can be used again."""
    node = tmp_path / "node"
    node.mkdir()  # a node's data dir is made by its owner (install -d), not by an import
    listing = tmp_path / "national.txt"
    listing.write_text("8015550199\n8015550198\n")
    cli("dnc", "import", str(listing), "--list", "national", "--published",
        datetime.now(UTC).date().isoformat(), "--covers", "all", data_dir=node, check=True)
    before = sorted(str(p.relative_to(node)) for p in node.rglob("*"))
    refused = cli("demo", "--data-dir", str(node), data_dir=tmp_path / "unused")
    assert refused.returncode == USAGE, refused.stdout + refused.stderr
    assert "not a demo directory" in refused.stderr
    assert sorted(str(p.relative_to(node)) for p in node.rglob("*")) == before
    status = json.loads(cli("dnc", "status", "--json", data_dir=node).stdout)
    assert [(r["list"], r["version"]) for r in status["lists"]] == [("national", 1)], status
    demo_dir = tmp_path / "demo"
    for _ in range(2):  # a fresh directory, then the same one again
        again = cli("demo", "--data-dir", str(demo_dir), data_dir=tmp_path / "unused")
        assert again.returncode == 0, again.stderr


def test_demo_honours_the_groups_data_dir(tmp_path):
    """`callguard --data-dir DIR demo` (the form the demo's "try:" line prints) wrote a
    fresh temporary directory and left DIR alone; it is the demo's directory now, with the
    same refusals; two different ones are a usage error."""
    demo_dir = tmp_path / "demo"
    result = cli("--data-dir", str(demo_dir), "demo", data_dir=tmp_path / "unused")
    assert result.returncode == 0, result.stderr
    assert f"data dir: {demo_dir.resolve()} " in result.stdout
    assert (demo_dir / "lists" / "national").is_dir()
    checked = cli("--data-dir", str(demo_dir), "check", "8015550199", "--campaign",
                  "ut-solar-manual", *NOW, data_dir=tmp_path / "unused")
    assert checked.returncode == 1, checked.stderr  # the demo's national list: BLOCK
    # The "try:" line, run as printed, answers as the table's first row did (ALLOW),
    # whatever the hour and whether or not the clock is synchronised (it asks with --at).
    tried = result.stdout.splitlines()[-1].split()
    assert tried[:2] == ["try:", "callguard"], result.stdout
    answered = cli(*tried[2:], data_dir=tmp_path / "unused")
    assert answered.returncode == ALLOW, answered.stdout + answered.stderr
    node = tmp_path / "node"
    node.mkdir()
    (node / "records.sqlite3").write_bytes(b"")
    refused = cli("--data-dir", str(node), "demo", data_dir=tmp_path / "unused")
    assert refused.returncode == USAGE
    assert "not a demo directory" in refused.stderr
    twice = cli("--data-dir", str(demo_dir), "demo", "--data-dir", str(tmp_path / "other"),
                data_dir=tmp_path / "unused")
    assert twice.returncode == USAGE
    assert "given twice" in twice.stderr


@pytest.mark.parametrize("given", [False, True])
def test_demo_says_which_data_dir_it_uses(tmp_path, given):
    """The start line ("using") names the directory the demo writes, not the configured
    one it ignores (it named CALLGUARD_DATA_DIR, or ~/.local/share/callguard, while the
    demo wrote a fresh temporary directory), and the configured one is left alone."""
    configured = tmp_path / "service-data"
    configured.mkdir()
    args = ("--data-dir", str(tmp_path / "demo")) if given else ()
    result = cli("demo", *args, data_dir=configured)
    assert result.returncode == 0, result.stderr
    shown = next(line for line in result.stdout.splitlines() if line.startswith("data dir:"))
    used = shown.split()[2]
    (start,) = [json.loads(line) for line in result.stderr.splitlines()
                if '"event":"using"' in line]
    assert start["data_dir"] == used
    assert (used == str((tmp_path / "demo").resolve())) is given
    assert sorted(configured.iterdir()) == []


class TestRedisBackend:
    """The same commands with `[lists] backend = "redis"`, against a real redis-server."""

    @pytest.fixture
    def redis_config(self, tmp_path, redis_server):
        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
        text = text.replace('packs_dir = "jurisdictions"',
                            'packs_dir = ""')
        text = text.replace('backend = "embedded"\n\n[redis]', 'backend = "redis"\n\n[redis]')
        text = text.replace('url = "redis://127.0.0.1:6379/0"', f'url = "{redis_server.url}"')
        assert redis_server.url in text
        assert 'backend = "redis"\n\n[redis]' in text
        path = tmp_path / "redis.toml"
        path.write_text(text)
        return path

    def test_import_status_check_rollback(self, tmp_path, redis_config):
        """Publish two versions through Redis, inspect them, decide from them, roll back."""
        today = datetime.now(UTC).date().isoformat()
        first, second = tmp_path / "v1.txt", tmp_path / "v2.txt"
        first.write_text("8015550199\n")
        second.write_text("8015550188\n")
        conf = ("--config", str(redis_config))
        for path in (first, second):
            for name in ("national", "ut-state"):
                done = cli(*conf, "dnc", "import", str(path), "--list", name, "--published",
                           today, "--covers", "all", data_dir=tmp_path)
                assert done.returncode == 0, done.stderr
        status = json.loads(cli(*conf, "dnc", "status", "--json", data_dir=tmp_path).stdout)
        assert {(r["list"], r["version"]) for r in status["lists"]} == {("national", 2),
                                                                       ("ut-state", 2)}
        looked = json.loads(cli(*conf, "dnc", "check", "801-555-0188", "--json",
                                data_dir=tmp_path).stdout)
        assert all(row["listed"] for row in looked["lists"])
        decided = cli(*conf, "check", "8015550188", "--campaign", "ut-solar-manual", "--at",
                      weekday_at(11).isoformat(), "--json", data_dir=tmp_path)
        assert json.loads(decided.stdout)["rule"] == "us-federal:64.1200(c)(2)"
        assert cli(*conf, "dnc", "rollback", "--list", "national", data_dir=tmp_path
                   ).returncode == 0
        looked = json.loads(cli(*conf, "dnc", "check", "8015550188", "--json",
                                data_dir=tmp_path).stdout)
        national = next(r for r in looked["lists"] if r["list"] == "national")
        assert (national["version"], national["listed"]) == (1, False)

    def test_record_commands_load_no_list(self, tmp_path, redis_config):
        """`consent add` and the like read no list: each one loaded every list from Redis
        (~10 MB per 5 M numbers) before writing one record; `check` still loads them."""
        conf = ("--config", str(redis_config))
        listing = tmp_path / "national.txt"
        listing.write_text("8015550199\n")
        cli(*conf, "dnc", "import", str(listing), "--list", "national", "--published",
            datetime.now(UTC).date().isoformat(), "--covers", "all", data_dir=tmp_path,
            check=True)
        for args in (("consent", "add", "8015550142", "--kind", "written", "--campaign",
                      "ut-solar-manual"),
                     ("internal-dnc", "add", "8015550143", "--campaign", "ut-solar-manual"),
                     ("ebr", "add", "8015550144", "--last-transaction",
                      datetime.now(UTC).date().isoformat(), "--campaign", "ut-solar-manual")):
            done = cli(*conf, *args, data_dir=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "list_version_loaded" not in done.stderr, (args, done.stderr)
        decided = cli(*conf, "check", "8015550199", "--campaign", "ut-solar-manual", *NOW,
                      data_dir=tmp_path)
        assert '"event":"list_version_loaded"' in decided.stderr  # deciding reads them

    def test_delta_through_redis(self, tmp_path, redis_config):
        """A delta on the current Redis version becomes the next version on every node."""
        conf = ("--config", str(redis_config))
        base = tmp_path / "base.txt"
        base.write_text("8015550101\n8015550102\n")
        cli(*conf, "dnc", "import", str(base), "--list", "national", "--published",
            "2026-07-01", data_dir=tmp_path, check=True)
        delta = tmp_path / "delta.txt"
        delta.write_text("+8015550103\n-8015550101\n")
        done = cli(*conf, "dnc", "import", str(delta), "--list", "national", "--published",
                   "2026-07-02", "--delta-base", "1", data_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        looked = {n: json.loads(cli(*conf, "dnc", "check", n, "--json", data_dir=tmp_path
                                    ).stdout)["lists"][0] for n in ("8015550101", "8015550103")}
        assert (looked["8015550101"]["listed"], looked["8015550103"]["listed"]) == (False, True)
        assert looked["8015550103"]["version"] == 2

    def test_redis_down_at_check_time_blocks(self, tmp_path, redis_config, redis_server):
        """No replica and no Redis: the lists are not loaded, so the call is BLOCKed."""
        redis_server.kill()
        result = cli("--config", str(redis_config), "check", "8015550123", "--campaign",
                     "ut-solar-manual", "--at", weekday_at(11).isoformat(), "--json",
                     data_dir=tmp_path)
        assert result.returncode == BLOCK
        assert "not loaded" in json.loads(result.stdout)["reason"]

    def test_password_in_url_is_refused(self, tmp_path):
        """Secrets never in the file: a password in the URL is a configuration error."""
        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
            'packs_dir = "jurisdictions"', 'packs_dir = ""')
        path = tmp_path / "c.toml"
        assert 'url = "redis://127.0.0.1:6379/0"' in text
        path.write_text(text.replace('url = "redis://127.0.0.1:6379/0"',
                                     'url = "redis://:hunter2@127.0.0.1:6379/0"'))
        result = cli("--config", str(path), "dnc", "status", data_dir=tmp_path)
        assert result.returncode == USAGE
        assert "CALLGUARD_REDIS_PASSWORD" in result.stderr


class TestScrub:
    """`callguard scrub`: every row through the gate, none skipped."""

    def test_scrub_writes_every_row_with_a_verdict(self, data_dir, tmp_path):
        """Good, listed, garbage and malformed rows all come out with a verdict and reason."""
        leads = tmp_path / "leads.csv"
        leads.write_text(
            "name,phone,zip\n"
            "Ann,801-555-0123,84101\n"
            "Bob,(801) 555-0199,84101\n"
            "Cy,not a number,84101\n"
            "Di,8005550100,\n"
            "Ed,8015550124\n"
        )
        out = tmp_path / "out.csv"
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--output", str(out), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        import csv
        rows = list(csv.DictReader(out.open()))
        assert [r["name"] for r in rows] == ["Ann", "Bob", "Cy", "Di", "Ed"]
        verdicts = {r["name"]: (r["callguard_verdict"], r["callguard_rule"]) for r in rows}
        assert verdicts["Ann"] == ("ALLOW", "")
        assert verdicts["Bob"] == ("BLOCK", "us-federal:64.1200(c)(2)")
        assert verdicts["Cy"] == ("BLOCK", "callguard:number-not-dialable")
        assert verdicts["Di"][0] == "BLOCK"
        assert all(r["callguard_decision_id"] for r in rows)
        assert "malformed line 6" in result.stderr
        assert "BLOCK" in result.stderr

    def test_a_row_with_more_cells_than_the_header_is_blocked_and_written_whole(
            self, data_dir, tmp_path):
        """hrev157: ``Cal,801-555-0123,Jr.,x`` under ``name,phone`` (a comma in a name, a
        column the header does not name) was decided on its phone cell (ALLOW) and written
        without ``Jr.`` and ``x``: which cell is the number is a guess, and the row lost
        data. Now a recorded BLOCK naming the line and the cell count, the row written whole
        (its extra cells after the callguard columns, which stay under their header)."""
        import csv
        leads = tmp_path / "leads.csv"
        leads.write_text("name,phone\nAnn,801-555-0123\nCal,801-555-0123,Jr.,x\n")
        out = tmp_path / "out.csv"
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--output", str(out), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        header, ann, cal = list(csv.reader(out.open(newline="")))
        assert ann[2:4] == ["ALLOW", ""], ann
        verdict, rule, reason = cal[2:5]
        assert (verdict, rule) == ("BLOCK", "callguard:malformed-row"), cal
        assert "line 3 has 4 cells, the header names 2" in reason, reason
        assert cal[7:] == ["Jr.", "x"], cal
        assert cal[:2] == ["Cal", "801-555-0123"], cal
        assert len(header) == 7, header
        assert "malformed line 3" in result.stderr

    def test_leads_and_leads_csv_write_distinct_outputs_and_never_an_input(self, data_dir,
                                                                           tmp_path):
        """Session 16: `scrub leads` and `scrub leads.csv` both wrote leads.scrubbed.csv
        (the second run replaced the first's verdicts), and a default or --output path
        that was another lead file was overwritten."""
        at = weekday_at(11).isoformat()
        bare, dotted = tmp_path / "leads", tmp_path / "leads.csv"
        bare.write_text("phone\n8015550123\n")
        dotted.write_text("phone\n8015550199\n")
        for leads in (bare, dotted):
            done = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at", at,
                       data_dir=data_dir)
            assert done.returncode == 0, done.stderr
        assert "8015550123" in (tmp_path / "leads-scrubbed.csv").read_text()
        assert "8015550199" in (tmp_path / "leads.scrubbed.csv").read_text()
        again = cli("scrub", str(dotted), "--campaign", "ut-solar-manual", "--at", at,
                    data_dir=data_dir)  # an earlier scrub's output is replaced
        assert again.returncode == 0, again.stderr
        other = tmp_path / "other.csv"
        other.write_text("phone\n8015550142\n")
        refused = cli("scrub", str(dotted), "--campaign", "ut-solar-manual", "--at", at,
                      "--output", str(other), data_dir=data_dir)
        assert refused.returncode == USAGE
        assert "--output" in refused.stderr
        assert "callguard_verdict" in refused.stderr
        assert other.read_text() == "phone\n8015550142\n"

    def test_a_header_alone_replaces_the_output_and_exits_0(self, tmp_path):
        """A day with no leads: exit 0 with a message saying so (main: an empty summary
        table and "0 of 0 rows"), the output rewritten with the header alone (yesterday's
        callable rows must not reach the dialer today), and no gate started: no record,
        no data dir made (main made both)."""
        leads = tmp_path / "leads.csv"
        leads.write_text("name,phone\n")
        out = tmp_path / "callable.csv"
        out.write_text("name,phone,callguard_verdict\nAnn,8015550123,ALLOW\n")  # yesterday
        data = tmp_path / "data"
        data.mkdir()  # a missing data dir is refused before anything (TestMissingDataDir)
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--output", str(out), "--only", "callable",
                     "--json", data_dir=data)
        assert result.returncode == 0, result.stderr
        message = " ".join(result.stderr.split())
        assert "has a header and no rows: nothing to decide" in message
        assert out.read_text().splitlines() == [
            "name,phone,callguard_verdict,callguard_rule,callguard_reason,"
            "callguard_decision_id,callguard_lists"]
        assert json.loads(result.stdout)["rows"] == 0
        assert list(data.iterdir()) == []  # no record, no log key, no store
        no_column = tmp_path / "zips.csv"
        no_column.write_text("name,zip\n")
        refused = cli("scrub", str(no_column), "--campaign", "ut-solar-manual", "--at",
                      weekday_at(11).isoformat(), data_dir=data)
        assert refused.returncode == USAGE
        assert "no number column found" in refused.stderr

    def test_the_lead_file_is_never_the_output(self, data_dir, tmp_path):
        """`--output` naming the lead file (by any path) replaced the leads with the
        verdicts; it is refused before anything is read or decided."""
        leads = tmp_path / "leads.csv"
        text = "name,phone\nAnn,801-555-0123\n"
        leads.write_text(text)
        for named in (leads, tmp_path / "." / "leads.csv"):
            refused = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                          weekday_at(11).isoformat(), "--output", str(named),
                          data_dir=data_dir)
            assert refused.returncode == USAGE, refused.stderr
            assert "is the lead file itself" in " ".join(refused.stderr.split())
        assert leads.read_text() == text

    def test_yesterdays_output_scrubbed_again_has_one_verdict_per_row(self, data_dir,
                                                                      tmp_path):
        """Scrubbing a scrubbed file again (yesterday's output, for today) appended a second
        set of callguard_* columns: a dialer reading the first `callguard_verdict` got
        yesterday's. This run's columns replace them."""
        leads = tmp_path / "leads.csv"
        leads.write_text("name,phone\nAnn,801-555-0123\nBob,(801) 555-0199\n")
        first = tmp_path / "monday.csv"
        assert cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                   weekday_at(11).isoformat(), "--output", str(first),
                   data_dir=data_dir).returncode == 0
        again = tmp_path / "tuesday.csv"
        result = cli("scrub", str(first), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(12).isoformat(), "--output", str(again), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        assert "holds an earlier scrub's callguard_* columns: replaced" in " ".join(
            result.stderr.split())
        import csv
        with again.open() as handle:
            header = next(csv.reader(handle))
        assert header == ["name", "phone", "callguard_verdict", "callguard_rule",
                          "callguard_reason", "callguard_decision_id", "callguard_lists"]
        old = {r["name"]: r["callguard_decision_id"] for r in csv.DictReader(first.open())}
        new = {r["name"]: r["callguard_decision_id"] for r in csv.DictReader(again.open())}
        assert old.keys() == new.keys() == {"Ann", "Bob"}
        assert not set(old.values()) & set(new.values())  # this run's decisions

    def test_one_number_four_times_writes_three_callable_rows(self, tmp_path):
        """Fla. Stat. 501.616(6)(b): a lead file listing one Florida number four times under
        a cap of three: three rows ALLOW, the fourth BLOCKs citing the cap as a scrub row,
        and --only callable holds the number three times; the record explains the cap as
        PASS / BLOCK, and nothing was counted (a live check is still allowed)."""
        import csv
        root = tmp_path / "data"
        root.mkdir()
        listing = tmp_path / "list.txt"
        listing.write_text("8015550199\n")
        from zoneinfo import ZoneInfo
        day = wednesday_this_quarter()  # a Florida copy from today is current on it
        published = min(day, datetime.now(UTC).date()).isoformat()
        for name in ("national", "ut-state", "fl-state"):
            cli("dnc", "import", str(listing), "--list", name, "--published", published,
                "--covers", "all", data_dir=root, check=True)
        leads = tmp_path / "leads.csv"
        leads.write_text("name,phone\nA,305-555-0123\nB,(305) 555-0123\nC,+13055550123\n"
                         "D,3055550123\nE,3055550124\n")
        denver = ZoneInfo("America/Denver")
        at = datetime(day.year, day.month, day.day, 11, tzinfo=denver).isoformat()
        full, callable_ = tmp_path / "full.csv", tmp_path / "callable.csv"
        for out, extra in ((full, ()), (callable_, ("--only", "callable"))):
            result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at", at,
                         "--output", str(out), *extra, data_dir=root)
            assert result.returncode == 0, result.stderr
        rows = list(csv.DictReader(full.open()))
        assert [r["callguard_verdict"] for r in rows] == ["ALLOW"] * 3 + ["BLOCK", "ALLOW"]
        assert rows[3]["callguard_rule"] == "us-fl:501.616(6)(b)"
        assert "scrub" in rows[3]["callguard_reason"]
        assert "earlier rows of this file" in rows[3]["callguard_reason"]
        assert [r["name"] for r in csv.DictReader(callable_.open())] == ["A", "B", "C", "E"]
        for row, status in ((rows[0], "pass"), (rows[3], "block")):
            shown = cli("explain", row["callguard_decision_id"], "--json", data_dir=root)
            assert shown.returncode == 0, shown.stderr
            cap = [r for p in json.loads(shown.stdout)["packs"] for r in p["rules"]
                   if r["rule"] == "us-fl:501.616(6)(b)"]
            assert [r["status"] for r in cap] == [status], cap
        assert "earlier rows of this file" in cap[0]["reason"]
        live = cli("check", "3055550123", "--campaign", "ut-solar-manual", "--at", at,
                   data_dir=root)
        assert live.returncode == ALLOW, live.stdout
        late = cli("check", "3055550123", "--campaign", "ut-solar-manual", "--at",
                   datetime(day.year, day.month, day.day, 20, tzinfo=denver).isoformat(),
                   "--json", data_dir=root)  # 22:00 in Miami
        assert late.returncode == BLOCK, late.stdout
        shown = cli("explain", json.loads(late.stdout)["decision_id"], "--json",
                    data_dir=root)
        cap = [r for p in json.loads(shown.stdout)["packs"] for r in p["rules"]
               if r["rule"] == "us-fl:501.616(6)(b)"]
        assert [(r["status"], r["reason"]) for r in cap] == [
            ("not-applicable", "not counted: another rule blocks the call")]

    def test_missing_number_column_is_a_usage_error(self, data_dir, tmp_path):
        """The admin is told which columns exist and how to name the right one."""
        leads = tmp_path / "leads.csv"
        leads.write_text("name,mobile\nAnn,8015550123\n")
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), data_dir=data_dir)
        assert result.returncode == USAGE
        assert "--number-column" in result.stderr

    @pytest.mark.parametrize(("header", "row", "words"), [
        ("name,phone,phone", "8015550123,8015550199", "'phone' appears 2 times"),
        ("name,Phone,phone", "8015550123,8015550199", "'Phone' appears 2 times"),
        ("name,phone,tel", "8015550123,8015550199", "'phone', 'tel' could each be"),
        ("name,phone,zip,ZIP", "8015550123,84101,99501", "'zip' appears 2 times")],
        ids=["twice", "any-case", "two-names", "location-twice"])
    def test_a_row_with_two_number_columns_is_not_called_callable(self, data_dir, tmp_path,
                                                                  header, row, words):
        """A CRM export with two `phone` columns (or `phone` and `tel`) was scrubbed on the
        first alone: 8015550123 ALLOWed the row while its other number, on the national
        registry, went to the dialer in the callable file. Refused before any decision
        (exit 2, nothing written) unless --number-column names a column given once."""
        leads = tmp_path / "leads.csv"
        leads.write_text(f"{header}\nAnn,{row}\n")
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), "--only", "callable", data_dir=data_dir)
        assert result.returncode == USAGE, result.stdout + result.stderr
        assert words in " ".join(result.stderr.split()), result.stderr
        assert not (tmp_path / "leads.scrubbed.csv").exists()
        if header == "name,phone,tel":
            chosen = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                         weekday_at(11).isoformat(), "--number-column", "tel", "--output",
                         "-", data_dir=data_dir)
            assert chosen.returncode == 0, chosen.stderr
            assert ",BLOCK,us-federal:64.1200(c)(2)," in chosen.stdout


    def test_a_quote_never_closed_is_refused_not_read_as_one_lead(self, data_dir, tmp_path):
        """A stray quote (a name typed `"Cal`, a file cut short) made the rest of the file
        one value: three leads came out as one row, "no number given", and the summary
        said "2 of 2 rows". Refused (exit 2, nothing decided or written), naming the line;
        a value that spans lines inside closed quotes (an address) is still read."""
        leads = tmp_path / "leads.csv"
        leads.write_text('name,phone\nAnn,8015550123\n"Cal,8015550124\nDan,8015550125\n'
                         "Eve,8015550126\n")
        result = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                     weekday_at(11).isoformat(), data_dir=data_dir)
        assert result.returncode == USAGE, result.stdout + result.stderr
        said = " ".join(result.stderr.split())
        assert "a quote opened on line 3 is never closed, so lines 3-5" in said, said
        assert not (tmp_path / "leads.scrubbed.csv").exists()
        leads.write_text('name,phone,address\nAnn,8015550123,"1 Main St\nApt 2"\n'
                         "Dan,8015550125,x\n")
        spans = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                    weekday_at(11).isoformat(), "--json", data_dir=data_dir)
        assert spans.returncode == 0, spans.stderr
        assert json.loads(spans.stdout)["rows"] == 2


def test_serve_warns_at_start_of_each_list_it_lacks(tmp_path):
    """A node started before its lists were imported answered BLOCK to every call they
    cover with nothing in its log but the start line; it names the missing lists at once
    (not the ones [lists] not_loaded leaves out on purpose, nor the optional ones)."""
    import signal

    from callguard.stores.embedded.lists import write_version
    from callguard.stores.list_files import ParsedList
    from tests.redis_server import free_port

    data = tmp_path / "data"
    write_version(data, "national", ParsedList(), published=datetime.now(UTC).date(),
                  area_codes=None, source="t")
    config = tmp_path / "node.toml"
    config.write_text((ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
        'packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
        "port = 4573", f"port = {free_port()}"))
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(data)}
    env.pop("CALLGUARD_CONFIG", None)
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert process.stderr is not None
    events = []
    try:
        for line in process.stderr:
            if line.startswith("{"):
                events.append(json.loads(line))
            if events and events[-1]["event"] in ("lists_missing", "serving") and any(
                    e["event"] == "serving" for e in events):
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    (missing,) = [e for e in events if e["event"] == "lists_missing"]
    assert missing["lists"] == ["ut-state"]
    assert missing["level"] == "warning"
    assert "BLOCK" in missing["detail"]


def test_readme_shows_what_the_demo_prints(tmp_path):
    """README's "Two commands" block is the newcomer's first comparison: it said "16 rules"
    and a national-registry citation without 16 CFR 310.4 after both had changed. Each line
    shown (case, verdict, reason; the dates the demo picks and a trailing "..." aside) is a
    row the demo prints."""
    import re

    text = (ROOT / "README.md").read_text()
    block = text.split("## Two commands", 1)[1].split("```\n", 2)[2].split("```", 1)[0]
    shown = [re.split(r"\s{2,}", line.strip(), maxsplit=2) for line in block.splitlines()
             if line.strip() not in ("", "...")]
    assert len(shown) >= 5, block
    result = cli("demo", "--data-dir", str(tmp_path / "demo"), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")]
            for line in result.stdout.splitlines() if line.startswith("│")]

    def undated(reason):
        reason = re.sub(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d", "DAY", reason)
        return re.sub(r"\b\d{4}-\d\d-\d\d\b", "DATE", reason)

    for case, verdict, reason in shown:
        found = [r for r in rows if r[0].startswith(case)]
        assert len(found) == 1, (case, rows)
        assert found[0][1] == verdict, (case, found[0])
        expected, printed = undated(reason), undated(found[0][2])
        if expected.endswith(" ..."):
            assert printed.startswith(expected[:-4]), (expected, printed)
        else:
            assert printed == expected, (expected, printed)


def test_check_about_now_on_an_unsynchronised_clock_gets_no_answer(data_dir, monkeypatch):
    """Session 16: /readyz said the clock was unsynchronised and not ready, `check` answered
    ALLOW anyway (calling hours are judged on that clock). Now: exit 3, nothing decided
    or recorded, the fix named; --at (a stated instant) and require_clock_sync = false
    still answer. In-process: the kernel's state is replaced, both ways."""
    from click.testing import CliRunner

    import callguard.cli.check as check_module
    from callguard.cli.main import cli as root

    monkeypatch.setenv("CALLGUARD_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CALLGUARD_CONFIG", raising=False)
    log = data_dir / "compliance.jsonl"
    before = log.read_bytes() if log.exists() else b""
    states = {"synced": (True, "synchronised"),
              "unsynced": (False, "the kernel reports the clock unsynchronised (TIME_ERROR)")}
    state = "unsynced"
    monkeypatch.setattr(check_module, "adjtimex_synchronised", lambda: states[state],
                        raising=False)
    asked = CliRunner().invoke(root, ["check", "8015550123", "--campaign", "ut-solar-manual"])
    assert asked.exit_code == 3, asked.output
    assert "unsynchronised" in asked.output
    assert "require_clock_sync" in asked.output
    assert "--at" in asked.output
    after = log.read_bytes() if log.exists() else b""
    assert after == before  # nothing decided
    stated = CliRunner().invoke(root, ["check", "8015550199", "--campaign", "ut-solar-manual",
                                       "--at", weekday_at(11).isoformat()])
    assert stated.exit_code == BLOCK, stated.output
    state = "synced"
    now = CliRunner().invoke(root, ["check", "8015550199", "--campaign", "ut-solar-manual"])
    assert now.exit_code == BLOCK, now.output  # on the national list: answered


def test_at_without_offset_suggests_utahs_offset_on_that_date(data_dir):
    """The example was always -06:00 (Utah's summer offset): a December --at copied from it
    asked about an hour before the time meant (10:30 written, 09:30 MST asked). It is
    Denver's offset at that wall time now, and the suggested form is accepted."""
    winter = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                 "2026-12-07T10:30:00", data_dir=data_dir)
    assert winter.returncode == USAGE
    said = " ".join(winter.stderr.split())
    assert "e.g. 2026-12-07T10:30:00-07:00 (that time in Utah" in said, said
    summer = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                 "2026-07-22", data_dir=data_dir)
    assert "e.g. 2026-07-22T10:00:00-06:00 (that time in Utah" in " ".join(
        summer.stderr.split())
    taken = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                "2026-12-07T10:30:00-07:00", "--json", data_dir=data_dir)
    assert json.loads(taken.stdout)["local_times"][0]["local"].startswith("2026-12-07T10:30")


def test_a_scrub_that_dies_half_way_leaves_the_earlier_output_whole(tmp_path):
    """The output file is replaced whole or not at all (scrub._opened): a scrub that died
    half-way (a store gone, a kill) left a cut file a dialer would load as the day's
    callable leads, and yesterday's output was already destroyed."""
    from callguard.cli.scrub import _opened
    from callguard.csvfile import CsvTable

    target = tmp_path / "leads.scrubbed.csv"
    target.write_text("number,callguard_verdict\n8015550123,ALLOW\n")
    table = CsvTable(header=["number"], rows=[], delimiter=",", encoding="utf-8",
                     line_numbers=[])

    def dies_half_way() -> None:
        with _opened(target, table) as out:
            out.write("number,callguard_verdict\n80155")
            raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        dies_half_way()
    assert target.read_text() == "number,callguard_verdict\n8015550123,ALLOW\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.scrubbed.csv"]
    with _opened(target, table) as out:
        out.write("number,callguard_verdict\n")
    assert target.read_text() == "number,callguard_verdict\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.scrubbed.csv"]


def test_a_scrub_output_behind_a_symlink_replaces_the_file_it_names(tmp_path):
    """rename() replaces a symbolic link, not the file it names (POSIX rename): a scrub
    output linked into the dialer's import directory kept yesterday's leads there while
    the link became a file of its own (hrev19). The file's permissions are kept."""
    from callguard.cli.scrub import _opened
    from callguard.csvfile import CsvTable

    dialer = tmp_path / "dialer"
    dialer.mkdir()
    real = dialer / "today.csv"
    real.write_text("number,callguard_verdict\n8015550123,ALLOW\n")
    real.chmod(0o640)
    link = tmp_path / "leads.scrubbed.csv"
    link.symlink_to(real)
    table = CsvTable(header=["number"], rows=[], delimiter=",", encoding="utf-8",
                     line_numbers=[])
    with _opened(link, table) as out:
        out.write("number,callguard_verdict\n")
    assert link.is_symlink()
    assert real.read_text() == "number,callguard_verdict\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in dialer.iterdir()) == ["today.csv"]

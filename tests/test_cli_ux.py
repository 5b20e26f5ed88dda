"""The CLI as cron, a pipe or an ssh session sees it: output never cut, errors a user can
cause are usage errors (exit 2) that name the fix, list imports that say what they did.

Every command runs as a real subprocess with stdout and stderr pipes and no ``COLUMNS``
(rich then assumes 80 columns: the old output cut rule ids and dates there).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import click
import pytest
from click.utils import make_default_short_help

from callguard.cli.main import cli as root
from tests.conftest import ROOT
from tests.log_files import placed_call
from tests.redis_server import free_port
from tests.test_http import AT

USAGE = 2
# Rule ids longer than an 80-column cell leaves them.
HB45 = "us-ut-hb45-2000:13-26a-106(1)(g)"


def cli(data_dir, *args, env=None):
    environment = {**os.environ, "CALLGUARD_DATA_DIR": str(data_dir), **(env or {})}
    for name in ("COLUMNS", "LINES", "CALLGUARD_CONFIG"):
        environment.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                            text=True, env=environment, cwd=ROOT, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


# Read once: a test that compared with "today" read again failed when the run crossed
# midnight UTC between the import and the check.
PUBLISHED = datetime.now(UTC).date().isoformat()


def import_lists(root):
    """Both lists (national, ut-state) holding 8015550199, published today, by the CLI."""
    listing = root / "list.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        assert cli(root, "dnc", "import", str(listing), "--list", name, "--published", PUBLISHED,
                   "--covers", "all").returncode == 0


def one_line(text):
    """Messages as one line (a terminal may fold them; the words must be there)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """Both lists published today, an ALLOW and a BLOCK decided, a log to read."""
    root = tmp_path_factory.mktemp("ux")
    import_lists(root)
    blocked = json.loads(cli(root, "check", "8015550199", "--campaign", "ut-solar-manual",
                             "--at", AT, "--json").stdout)
    assert any(o["rule"] == HB45 for o in blocked["outcomes"]), blocked["outcomes"]
    cli(root, "check", "8015550123", "--campaign", "ut-solar-manual", "--at", AT, "--json")
    # a call too: `check --at` is a question, and `report` lists calls by deciding rule
    assert placed_call("8015550199", "ut-solar-manual", AT, data_dir=root, key=None) == "BLOCK"
    return root, blocked


class TestNeverCut:
    """Piped, every column comes out whole."""

    def test_check_prints_every_rule_id_whole(self, node):
        """The human decision names each blocking rule in full, not `…106(1)(…`."""
        root, blocked = node
        result = cli(root, "check", "8015550199", "--campaign", "ut-solar-manual", "--at", AT)
        assert result.returncode == 1
        for outcome in blocked["outcomes"]:
            if outcome["status"] == "block":
                assert outcome["rule"] in result.stdout, outcome["rule"]
        assert "…" not in result.stdout

    def test_check_of_an_undialable_number_says_no_pack_was_read(self, node):
        """Refused before any pack: the last line said "packs: " and nothing."""
        root, _ = node
        result = cli(root, "check", "555-0123", "--campaign", "ut-solar-manual", "--at", AT)
        assert result.returncode == 1
        assert result.stdout.splitlines()[-1] == (
            "packs: none read (decided by callguard:number-not-dialable before any pack)")

    def test_tail_prints_whole_dates_and_rules(self, node):
        """Dates as YYYY-MM-DD HH:MM:SS and the deciding rule in full."""
        root, blocked = node
        result = cli(root, "tail", "-n", "all")
        assert result.returncode == 0, result.stderr
        assert blocked["rule"] in result.stdout
        # ... in UTC, and saying so (a supervisor in Denver read them as local times)
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z ", result.stdout)

    def test_explain_reads_as_lines(self, node):
        """Each pack's title is a line of its own and no line ends in spaces (as a table
        title it was padded to the table's width: thousands of spaces, piped); each rule
        shows its status, id, citation and sentence whole."""
        root, blocked = node
        result = cli(root, "explain", blocked["decision_id"])
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert [line for line in lines if line != line.rstrip()] == []
        assert any(line.startswith("us-ut-hb45-2000 ") and line.endswith(": applied")
                   for line in lines), result.stdout
        (rule,) = [line for line in lines if HB45 in line]
        assert rule.split()[:2] == ["block", HB45]
        following = lines[lines.index(rule) + 1]
        assert following.startswith(" " * 18)
        assert "do not call list" in following

    def test_report_tables_are_whole(self, node):
        """The blocked-by-rule table names the rule whole; days are whole dates."""
        root, blocked = node
        result = cli(root, "report")
        assert result.returncode == 0, result.stderr
        assert blocked["rule"] in result.stdout
        assert re.search(r"\b\d{4}-\d{2}-\d{2}\b", result.stdout)
        # "…" only as the range of the first line ("first … last"), never ending a cell
        assert "…" not in "\n".join(result.stdout.splitlines()[1:])
        # no watchdog records, and the bundled configuration does not enable it: one line
        # (hsml27; the "none" row with it on: tests/test_hsml27_report_watchdog_off.py)
        assert "watchdog: not enabled in this configuration" in result.stdout
        # each table's title a line of its own: as the table's title rich centred it and
        # padded it with spaces to the table's width
        lines = result.stdout.splitlines()
        for title in ("calls by day (UTC) and campaign", "blocked calls by rule"):
            assert title in lines, result.stdout

    @pytest.mark.parametrize("args", [
        ("check", "8015550199", "--campaign", "ut-solar-manual", "--at", AT),
        ("report",), ("tail", "-n", "all"), ("dnc", "status"), ("dnc", "check", "8015550123"),
        ("evidence", "8015550199"), ("campaigns", "list"), ("config", "check"),
        ("packs", "show", "us-ut"), ("attributes", "status")], ids=" ".join)
    def test_no_line_ends_in_spaces(self, node, args):
        """Piped, a borderless table padded its last column to the column's width: lines
        ended in spaces (cron mail, `| cat -A`, a diff of two days' output). None does."""
        root, _ = node
        result = cli(root, *args)
        assert result.returncode in (0, 1), result.stderr
        assert result.stdout.strip()
        padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
        assert padded == [], padded[:3]

    def test_one_utc_notation_across_commands(self, node):
        """`report` printed its first and last decision as ...+00:00 while `tail` and the
        records say ...Z: in UTC, every command writes ISO 8601's Z, human and JSON."""
        root, _ = node
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        shown = cli(root, "report")
        assert shown.returncode == 0, shown.stderr
        assert re.search(rf"\({stamp} … {stamp}\)", shown.stdout), shown.stdout
        figures = json.loads(cli(root, "report", "--json").stdout)
        assert re.fullmatch(stamp, figures["first"]), figures["first"]
        assert re.fullmatch(stamp, figures["last"]), figures["last"]
        assert figures["generated"].endswith("Z"), figures["generated"]
        outputs = {
            "report": shown.stdout, "report --json": json.dumps(figures),
            "report --csv": cli(root, "report", "--csv").stdout,
            "report --since": cli(root, "report", "--since", "2020-01-01T00:00:00Z").stdout,
            "evidence --json": cli(root, "evidence", "8015550199", "--json").stdout,
            "purge --dry-run --json": cli(root, "purge", "--dry-run", "--json").stdout,
            "check --json": cli(root, "check", "8015550123", "--campaign", "ut-solar-manual",
                                "--at", AT, "--json").stdout}
        assert cli(root, "consent", "add", "8015550155", "--kind", "written", "--campaign",
                   "ut-solar-manual", "--expires", "2027-06-01").returncode == 0
        assert cli(root, "internal-dnc", "add", "8015550155", "--campaign",
                   "ut-solar-manual").returncode == 0
        sheet = cli(root, "consent", "show", "8015550155", "--campaign", "ut-solar-manual",
                    "--json").stdout
        outputs["consent show --json"] = sheet
        (consent,) = json.loads(sheet)["consents"]
        assert consent["granted_at"].endswith("Z"), consent
        assert consent["expires_at"].endswith("Z"), consent
        assert json.loads(sheet)["company_dnc"]["added_at"].endswith("Z")
        assert [name for name, text in outputs.items() if "+00:00" in text] == []
        assert json.loads(outputs["evidence --json"])["query"]["generated"].endswith("Z")
        assert json.loads(outputs["purge --dry-run --json"])["cutoff"].endswith("Z")
        assert "from: 2020-01-01T00:00:00Z;" in outputs["report --since"]
        assert json.loads(outputs["check --json"])["at"].endswith("Z")

    def test_dnc_status_is_whole(self, node):
        """Every column of the list table, and the publication date in full."""
        root, _ = node
        result = cli(root, "dnc", "status")
        assert PUBLISHED in result.stdout
        assert "list.txt" in result.stdout

    def test_evidence_keeps_every_column(self, node):
        """The evidence table: rule, packs and lists whole; --json is the same evidence."""
        root, blocked = node
        result = cli(root, "evidence", "8015550199")
        assert result.returncode == 0, result.stderr
        assert blocked["rule"] in result.stdout
        assert "us-ut-hb45-2000" in result.stdout
        assert "…" not in "\n".join(result.stdout.splitlines()[1:])  # line 1: "number …0199"
        as_json = json.loads(cli(root, "evidence", "8015550199", "--json").stdout)
        assert blocked["decision_id"] in [d["decision_id"] for d in as_json["decisions"]]

    def test_evidence_of_a_number_never_called_says_none(self, node):
        """A number with no decision printed a table of headings alone (an empty box reads
        as a fault); it says "decisions: none", as the page does."""
        root, _ = node
        result = cli(root, "evidence", "2125559999")
        assert result.returncode == 0, result.stderr
        assert "decisions: none" in result.stdout.splitlines()
        assert "records before" not in result.stdout

    def test_attributes_status_is_whole(self, tmp_path):
        """Piped, the kinds came out cut ("ported-wirele…") and the area codes as a bare
        count ("1"); every kind whole, and the codes a copy covers, as `dnc status`."""
        listing = tmp_path / "w.txt"
        # a number in each area code covered: a wireless copy covers none it holds no
        # number in (hatt20)
        listing.write_text("8015550142\n3855550142\n")
        imported = cli(tmp_path, "attributes", "import", str(listing), "--kind", "wireless",
                       "--published", datetime.now(UTC).date().isoformat(), "--covers",
                       "801,385")
        assert imported.returncode == 0, imported.stderr
        result = cli(tmp_path, "attributes", "status")
        assert result.returncode == 0, result.stderr
        assert "…" not in result.stdout
        for kind in ("ported-wireless", "ported-wireline", "reassigned", "litigator"):
            assert f" {kind} " in result.stdout, result.stdout
        (row,) = [line for line in result.stdout.splitlines() if line.startswith("│ wireless ")]
        assert "385,801" in row, row

    def test_attributes_import_says_what_it_published_on_one_line(self, tmp_path):
        """Piped (cron mail), `attributes import` folded its message at 80 columns
        ("...; 0 \\nmalformed line(s) skipped") where `dnc import` prints one line."""
        listing = tmp_path / "w.txt"
        listing.write_text("8015550142\n")
        imported = cli(tmp_path, "attributes", "import", str(listing), "--kind",
                       "ported-wireless", "--published", PUBLISHED)
        assert imported.returncode == 0, imported.stderr
        (line,) = [line for line in imported.stderr.splitlines() if "published" in line]
        assert line.startswith("published attr-ported-wireless v1 (ported-wireless): "), line
        assert line.endswith("0 malformed line(s) skipped"), line

    def test_campaigns_list_is_whole_however_wide(self, tmp_path):
        """Piped, the table was laid out for 250 columns: a site's long campaign and seller
        names came out cut. It is as wide as its content, as every other table."""
        long_id = "ut-solar-manual-" + "spring-2027-wasatch-front-" * 4 + "x"
        seller = "beehive-solar-" + "and-partners-" * 6 + "llc"
        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
            'packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
            'id = "ut-solar-manual"', f'id = "{long_id}"', 1).replace(
            'solicitor = "beehive-solar"', f'solicitor = "{seller}"', 1)
        path = tmp_path / "long.toml"
        path.write_text(text)
        result = cli(tmp_path / "data", "--config", str(path), "campaigns", "list")
        assert result.returncode == 0, result.stderr
        assert "…" not in result.stdout
        assert long_id in result.stdout
        assert seller in result.stdout
        assert str(path) in result.stdout

    def test_internal_dnc_show_prints_no_python_dict(self, node, tmp_path):
        """Business relationship and company DNC as words, and --json as JSON."""
        root, _ = node
        assert cli(root, "internal-dnc", "add", "8015550177", "--campaign",
                   "ut-solar-manual").returncode == 0
        shown = cli(root, "internal-dnc", "show", "8015550177", "--campaign", "ut-solar-manual")
        assert shown.returncode == 0, shown.stderr
        line = next(x for x in shown.stdout.splitlines() if x.startswith("company do-not-call"))
        assert "{" not in line
        assert re.search(r"added at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; source cli$", line), line
        # no consent: said in words, not a table of headings alone
        assert "consent: none" in shown.stdout.splitlines()
        assert "granted (UTC)" not in shown.stdout
        data = json.loads(cli(root, "internal-dnc", "show", "8015550177", "--campaign",
                              "ut-solar-manual", "--json").stdout)
        assert data["company_dnc"]["added_at"]


class TestUsageErrors:
    """Exit 2 and a message that names the fix, never "internal error" (exit 3)."""

    def test_config_directory(self, node):
        root, _ = node
        result = cli(root, "--config", str(ROOT / "callguard" / "data"), "tail")
        assert result.returncode == USAGE
        assert (f"--config {ROOT / 'callguard' / 'data' / 'callguard.toml'}"
                in one_line(result.stderr))

    @pytest.mark.parametrize("command", [("config", "check"), ("packs", "check", "{file}")])
    def test_a_file_that_is_not_utf8_is_a_usage_error(self, node, tmp_path, command):
        """A binary given as the configuration or a pack was an internal error (exit 3,
        UnicodeDecodeError); it is a usage error naming the file and the cause."""
        root, _ = node
        binary = tmp_path / "x.toml"
        binary.write_bytes(b"\xc6\x00\xff" * 100)
        args = [a.format(file=binary) for a in command]
        if command[0] == "config":
            args = ["--config", str(binary), *args]
        result = cli(root, *args)
        assert result.returncode == USAGE, result.stderr
        assert f"{binary}: not UTF-8 text (byte 0xc6 at offset 0)" in one_line(result.stderr)

    def test_tail_negative_count(self, node):
        root, _ = node
        result = cli(root, "tail", "-n", "-1")
        assert result.returncode == USAGE
        assert "positive" in result.stderr

    def test_report_html_into_a_missing_directory_is_refused_before_scanning(self, node):
        root, _ = node
        result = cli(root, "report", "--html", "/nodir/x.html")
        assert result.returncode == USAGE
        assert "mkdir -p /nodir" in one_line(result.stderr)
        assert result.stdout == ""  # refused before any figure was computed

    def test_evidence_into_a_missing_directory_and_reversed_window(self, node):
        root, _ = node
        result = cli(root, "evidence", "8015550199", "--output", "/nodir/e.html")
        assert result.returncode == USAGE
        assert "mkdir -p /nodir" in one_line(result.stderr)
        result = cli(root, "evidence", "8015550199", "--from", "1d", "--to", "2d")
        assert result.returncode == USAGE
        assert "swap them" in one_line(result.stderr)

    @pytest.mark.parametrize("command", [
        ("evidence", "8015550199", "--format", "csv", "--output"), ("report", "--html"),
        ("scrub", "LEADS", "--campaign", "ut-solar-manual", "--at", AT, "--output")])
    def test_an_output_never_replaces_the_compliance_log(self, node, tmp_path, command):
        """`evidence 8015550199 --format csv --output <data dir>/compliance.jsonl` wrote
        the CSV over the compliance log and exited 0: the records were gone. An output over
        the log or a segment of it, over a file the data dir holds (the log key) or into
        its lists or archive is refused before anything; a new file of one's own is not."""
        root, _ = node
        leads = tmp_path / "leads.csv"
        leads.write_text("phone\n8015550123\n")
        args = [str(leads) if a == "LEADS" else a for a in command]
        log, key = root / "compliance.jsonl", root / "log.key"
        before = log.read_bytes(), key.read_bytes()
        for target in (log, root / "compliance.jsonl.20261205T000000Z", key,
                       root / "lists" / "out.html"):
            result = cli(root, *args, str(target))
            assert result.returncode == USAGE, result.stdout + result.stderr
            message = one_line(result.stderr)
            assert "destroy" in message, message
            assert (log.read_bytes(), key.read_bytes()) == before
        for elsewhere in (tmp_path / "out.html", root / f"mine-{command[0]}" / "out.html"):
            elsewhere.parent.mkdir(exist_ok=True)
            assert cli(root, *args, str(elsewhere)).returncode in (0, 1)
            assert elsewhere.exists()

    @pytest.mark.parametrize("command", [("evidence", "8015550199"), ("report",)])
    def test_an_archive_that_is_not_there_is_a_usage_error(self, node, tmp_path, command):
        """`evidence --archive` naming a wrong path (a backup mounted elsewhere) read the
        live log alone and exited 0, an answer without the years the officer asked for;
        `report` refused it. Both refuse it, naming the path."""
        root, _ = node
        result = cli(root, *command, "--archive", str(tmp_path / "no-archive"))
        assert result.returncode == USAGE, result.stdout + result.stderr
        assert f"--archive {tmp_path / 'no-archive'}: no archive there" in one_line(
            result.stderr)
        assert result.stdout == ""

    @pytest.mark.parametrize("command", ["tail", "report"])
    def test_a_rule_that_no_pack_has_is_named_not_answered_with_silence(self, node, command):
        """`tail --rule us-ut:13-25a-103(1)(a)` (the help's own example, an id no pack has)
        printed nothing and exited 0, as a quiet log would."""
        root, _ = node
        result = cli(root, command, "--rule", "us-ut:13-25a-103(1)(a)")
        message = one_line(result.stderr)
        if command == "report":  # session 22: refused (its --json/--csv said 0 blocks)
            assert result.returncode == 2, result.stderr
            assert "--rule 'us-ut:13-25a-103(1)(a)' is no rule of the configured packs and " \
                   "no record names it" in message, message
            assert result.stdout == ""
        else:
            assert result.returncode == 0, result.stderr
            assert "no record matched --rule 'us-ut:13-25a-103(1)(a)', which is no rule of " \
                   "the configured packs" in message, message
        known = cli(root, command, "--rule", "us-ut:13-25a-103(3):sunday-holiday")
        assert known.returncode == 0, known.stderr
        assert "no rule of the configured packs" not in one_line(known.stderr)
        helped = one_line(cli(root, "tail", "--help").stdout)
        assert "13-25a-103(3):hours" in helped  # click may fold the line after "us-"
        assert "13-25a-103(1)(a)" not in helped

    @pytest.mark.parametrize("command", ["tail", "report"])
    def test_a_node_no_record_names_is_said_not_answered_with_silence(self, node, command):
        """`report --node dialer-1` (the node writes as dialer-01) printed "0 decisions"
        and exited 0, and `tail` only "no record matched": a mistyped node name read as a
        node that decided nothing. The node every record names is found, and quietly."""
        root, _ = node
        result = cli(root, command, "--node", "no-such-node")
        message = one_line(result.stderr)
        if command == "report":  # session 22: refused (its --json/--csv said 0 calls)
            assert result.returncode == 2, result.stderr
            assert "--node 'no-such-node': no record read names that node" in message
        else:
            assert result.returncode == 0, result.stderr
            assert "no record matched --node 'no-such-node', and no record read names " \
                   "that node" in message, message
        written = json.loads(cli(root, "tail", "-n", "1", "--json").stdout)["node"]
        known = cli(root, command, "--node", written)
        assert known.returncode == 0, known.stderr
        assert "--node" not in one_line(known.stderr)

    def test_a_redacted_number_is_shown_not_eaten_as_markup(self, node, tmp_path):
        """Reasons name a number as "[number …0142]", which rich read as a markup tag and
        dropped: `dnc import` showed "line 2: ''" (as if the line were blank), `check`
        "' ext 5' contains letters", a records import "number 'x'"."""
        root, _ = node
        listing = tmp_path / "bad.txt"
        listing.write_text("8015550142x\n80155501234567\n")
        refused = cli(root, "dnc", "import", str(listing), "--list", "national",
                      "--published", "2026-12-01")
        assert refused.returncode == 1
        assert ("First: line 1: '[number …0142]x'; line 2: '[number …4567]'"
                in one_line(refused.stderr)), refused.stderr
        asked = cli(root, "check", "801-555-0142 ext 5", "--campaign", "ut-solar-manual",
                    "--at", datetime.now(UTC).isoformat(timespec="seconds"))
        assert asked.returncode == 1
        # hnum25: an extension, not letters (it said "dial vanity numbers as digits")
        assert "'[number …0142 x…]' has an extension" in one_line(asked.stdout)
        consents = tmp_path / "consents.csv"
        consents.write_text("number,kind,granted_at\n8015550142x,written,2026-01-01T00:00:00Z\n")
        rejected = cli(root, "consent", "import", str(consents), "--solicitor", "beehive-solar")
        assert rejected.returncode == USAGE
        assert "number '[number …0142]x'" in one_line(rejected.stdout + rejected.stderr)

    def test_output_dash_is_standard_output_or_refused(self, node):
        """`evidence --output -` (scrub's form for standard output) wrote a file named "-"
        in the working directory and printed nothing; `report --html -` did the same
        beside the report on standard output. evidence prints; report refuses (exit 2)."""
        root, blocked = node
        stray = ROOT / "-"
        try:
            printed = cli(root, "evidence", "--decision", blocked["decision_id"], "--format",
                          "csv", "--output", "-")
            assert printed.returncode == 0, printed.stderr
            assert printed.stdout.startswith("logged_at,event,at,decision_id,"), printed.stdout
            assert blocked["decision_id"] in printed.stdout
            assert not stray.exists()
            refused = cli(root, "report", "--html", "-")
            assert refused.returncode == USAGE, refused.stdout + refused.stderr
            assert "give a path such as report.html" in one_line(refused.stderr)
            assert not stray.exists()
        finally:
            stray.unlink(missing_ok=True)

    def test_a_field_cannot_forge_a_line_or_drive_the_terminal(self, tmp_path):
        """An opt-out's `source` (the agent desktop's text over HTTP, a CSV cell) holding a
        newline printed as two lines in `tail`: the second, of the sender's choosing, read
        as an ALLOW no gate gave; an ESC went to the supervisor's terminal as is. Each
        control character is shown as its picture (␊, ␛): one record, one line."""
        import_lists(tmp_path)
        forged = "2026-12-05 17:20:00Z vm           ALLOW ut-solar-manual …0140 manual http"
        added = cli(tmp_path, "internal-dnc", "add", "8015550140", "--campaign",
                    "ut-solar-manual", "--source", f"desk\n{forged}\x1b[2K")
        assert added.returncode == 0, added.stderr
        shown = cli(tmp_path, "tail", "--event", "record")
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert len(lines) == 1, lines
        assert f"source=desk␊{forged}␛[2K" in lines[0]
        assert "\x1b" not in shown.stdout
        other = cli(tmp_path, "tail", "--event", "list-change", "-n", "1")
        assert len(other.stdout.splitlines()) == 1
        evidence = cli(tmp_path, "evidence", "8015550140")
        assert evidence.returncode == 0, evidence.stderr
        assert "\x1b" not in evidence.stdout
        assert "desk␊2026-12-05" in evidence.stdout.replace("\n", "")

    @pytest.mark.parametrize("kind", ["dnc", "attributes"])
    def test_a_list_refused_is_named_whole_not_eaten_as_markup(self, tmp_path, kind):
        """`dnc status` and `attributes status` print why a list's version is refused; the
        reason names its directory, and a "[lab]" in it was read as a rich style tag and
        dropped (a "[/x]" in it would crash the command)."""
        root = tmp_path / "site[lab]"
        name = "national" if kind == "dnc" else "attr-wireless"
        current = root / "lists" / name / "CURRENT"
        current.parent.mkdir(parents=True)
        current.write_text("not a version\n")
        result = cli(root, kind, "status")
        shown = one_line(result.stdout)  # stderr has the log line, with the path whole
        assert f"{name}: {root}/lists/{name}/CURRENT is corrupt" in shown, shown

    def test_tail_stream_with_redis_down(self, node):
        root, _ = node
        result = cli(root, "tail", "--stream",
                     env={"CALLGUARD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
        assert result.returncode == USAGE
        message = one_line(result.stderr)
        assert "not reachable" in message
        assert "CALLGUARD_REDIS_URL" in message

    def test_at_without_offset_suggests_a_form_that_is_accepted(self, node):
        root, _ = node
        day = AT[:10]
        result = cli(root, "check", "8015550123", "--campaign", "ut-solar-manual", "--at", day)
        assert result.returncode == USAGE
        # the first form suggested (htz22: now followed by what it means in Utah, not "or")
        suggestion = re.search(r"e\.g\. (\S+) ", one_line(result.stderr))
        assert suggestion, result.stderr
        retried = cli(root, "check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                      suggestion[1], "--json")
        assert retried.returncode in (0, 1), retried.stderr

    @pytest.mark.parametrize("command", ["tail", "report"])
    def test_until_before_since(self, node, command):
        root, _ = node
        result = cli(root, command, "--since", "1d", "--until", "2d")
        assert result.returncode == USAGE
        assert "swap them" in one_line(result.stderr)

    def test_mistyped_tz_is_a_usage_error_not_a_logged_block(self, node):
        root, _ = node
        log = root / "compliance.jsonl"
        before = log.read_text().count("\n")
        result = cli(root, "check", "8015550123", "--campaign", "ut-solar-manual", "--at", AT,
                     "--tz", "America/Denvr")
        assert result.returncode == USAGE
        assert "America/Denver" in one_line(result.stderr)
        assert log.read_text().count("\n") == before

    def test_dnc_import_of_a_missing_file(self, node):
        root, _ = node
        result = cli(root, "dnc", "import", "missing.txt", "--list", "national", "--published",
                     "2026-12-01")
        assert result.returncode == USAGE
        assert "does not exist" in result.stderr

    def test_explain_in_a_data_dir_without_a_log_is_a_usage_error(self, node, tmp_path):
        """A wrong --data-dir is not 'decision not found' (exit 1): there is no log to
        search, and the message says where it looked and what to fix."""
        _, blocked = node
        for args in ((), ("--file", str(tmp_path / "nope.jsonl"))):
            result = cli(tmp_path, "explain", blocked["decision_id"], *args)
            assert result.returncode == USAGE, result.stderr
            assert "no compliance log" in one_line(result.stderr)
            assert "not found" not in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_tail_of_a_data_dir_wholly_archived_points_at_the_archive(self, tmp_path):
        """Once `archive --keep-segments-days 0` deleted the last segment and nothing was
        logged since, `tail` told the compliance officer to check --data-dir — the right
        one — though every record was in its archive; `evidence` found them there."""
        import_lists(tmp_path)
        decided = json.loads(cli(tmp_path, "check", "8015550199", "--campaign",
                                 "ut-solar-manual", "--at", AT, "--json").stdout)
        log = tmp_path / "compliance.jsonl"
        log.rename(tmp_path / "compliance.jsonl.20261201T000000Z")  # as the writer closes it
        archived = cli(tmp_path, "archive", "--keep-segments-days", "0")
        assert archived.returncode == 0, archived.stderr
        assert not list(tmp_path.glob("compliance.jsonl*Z*")), list(tmp_path.iterdir())
        result = cli(tmp_path, "tail", "-n", "5")
        assert result.returncode == USAGE, result.stdout + result.stderr
        said = one_line(result.stderr)
        assert f"are in its archive ({tmp_path / 'archive'})" in said, said
        assert "callguard evidence" in said
        assert "check --data-dir" not in said
        found = cli(tmp_path, "evidence", "--decision", decided["decision_id"])
        assert found.returncode == 0, found.stderr
        assert not log.exists()  # reading made no log

    @pytest.mark.parametrize("args", [
        ("consent", "add", "801555O101", "--kind", "written", "--campaign", "ut-solar-manual"),
        ("tail", "--number", "801555O101"), ("evidence", "801555O101"),
        ("dnc", "check", "801:555:01;01"),
        ("internal-dnc", "import", "{csv}", "--campaign", "ut-solar-manual")],
        ids=lambda args: " ".join(args[:2]))
    def test_a_mistyped_number_is_not_repeated_in_clear(self, node, tmp_path, args):
        """A number with a letter O for a zero, or split by odd punctuation, was repeated as
        typed before the reason ("number '801555O101': '[number …5101]' contains
        letters"): stderr reaches cron mail and journals. Quoted as its last four."""
        root, _ = node
        leads = tmp_path / "dnc.csv"
        leads.write_text("number\n801555O101\n")
        result = cli(root, *(a.format(csv=leads) for a in args))
        assert result.returncode == USAGE, result.stdout + result.stderr
        assert "[number …5101]" in result.stderr or "[number …0101]" in result.stderr
        assert "801555" not in result.stderr.replace(str(tmp_path), "")
        assert "555:01" not in result.stderr

    def test_explain_says_its_exit_status(self, node):
        """`explain` of an id no record has exits 1 (a script's "not found"), and --help
        and the README said nothing of it; both say 0 / 1 / 2 now."""
        root, blocked = node
        assert cli(root, "explain", blocked["decision_id"]).returncode == 0
        missing = cli(root, "explain", "01a245dc-0000-7000-8000-000000000000")
        assert missing.returncode == 1, missing.stderr
        assert "not found: no decision" in one_line(missing.stderr)
        shown = one_line(cli(root, "explain", "--help").stdout)
        # each not-found reason its own code since hoff26 (4 not searched, 5 may have been
        # trimmed, 6 in the archiver's archive)
        assert "0 explained 1 not found: no such decision in the log, the archive" in shown
        assert "6 not found here" in shown
        readme = one_line((ROOT / "README.md").read_text())
        assert "`explain` exits **0** when the decision is explained, **1**" in readme

    @pytest.mark.parametrize("json_flag", [(), ("--json",)])
    def test_dnc_check_with_no_list_loaded_is_a_usage_error(self, tmp_path, json_flag):
        """A wrong --data-dir printed nothing and exited 0 ("on no list" reads as "not
        listed"); it names the data dir and the fix, and creates nothing."""
        result = cli(tmp_path, "dnc", "check", "8015550199", *json_flag)
        assert result.returncode == USAGE, result.stdout + result.stderr
        assert "no list" in one_line(result.stderr)
        assert str(tmp_path) in one_line(result.stderr)
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_config_check_prints_bracketed_words(self, tmp_path):
        """A sentence naming a configuration section keeps its "[lists]" (rich markup
        took it as a style tag and printed "( not_loaded)")."""
        path = tmp_path / "c.toml"
        shipped = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
        path.write_text(shipped.replace('packs_dir = "jurisdictions"', 'packs_dir = ""'))
        result = cli(tmp_path / "data", "--config", str(path), "config", "check")
        assert "not loaded on purpose ([lists] not_loaded)" in result.stdout, result.stdout
        # each optional list says what its absence changes, not both lists' effects
        lines = {line.split()[1]: line for line in result.stdout.splitlines()
                 if line.startswith("list ")}
        assert "reassigned" in lines["attr-reassigned"]
        assert "wireless" not in lines["attr-reassigned"]
        assert "reassigned" not in lines["attr-wireless"]
        assert "possibly wireless" in lines["attr-ported-wireless"]


class TestListImport:
    """`dnc import` says how far it is, what it dropped, and refuses a name nobody reads."""

    @pytest.mark.parametrize("body", [
        "8015550199\n801555O101\n801,555O102\n801:555:01;03\n",   # the line parser
        "8015550199\n801555O101\n8015550199\n"], ids=["lines", "fixed-width"])
    def test_a_malformed_number_is_not_reported_in_clear(self, tmp_path, body):
        """A number mistyped with a letter (O for 0) or split by odd punctuation was
        reported as written ("line 2: '801555O101'") on stderr, which reaches cron mail and
        journals; as `check` says of the same text, it is its last four."""
        listing = tmp_path / "national.txt"
        listing.write_text(body)
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                     "--published", PUBLISHED, "--max-bad-share", "0.9")
        assert result.returncode == 0, result.stderr
        assert "line 2: '[number …5101]'" in result.stderr, result.stderr
        assert "801555" not in result.stderr.replace(str(tmp_path), "")
        assert "555:01" not in result.stderr

    def test_a_malformed_dated_line_keeps_its_date_and_hides_its_number(self, tmp_path):
        """`attributes import --kind reassigned`: a mistyped number was reported as written
        ("line 2: '801555O101,2026-11-01'"); its date is what the reader needs to fix."""
        listing = tmp_path / "reassigned.txt"
        listing.write_text("8015550199,2026-11-01\n801555O101,2026-11-01\n")
        result = cli(tmp_path, "attributes", "import", str(listing), "--kind", "reassigned",
                     "--published", PUBLISHED, "--max-bad-share", "0.9")
        assert result.returncode == 0, result.stderr
        assert "line 2: '[number …5101],2026-11-01'" in result.stderr, result.stderr
        assert "801555" not in result.stderr.replace(str(tmp_path), "")

    def test_progress_and_duplicates(self, tmp_path):
        """Bytes of the file, percent, and the duplicates dropped."""
        listing = tmp_path / "national.txt"
        listing.write_text("8015550199\n8015550199\n3855550100\n8015550199\n")
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                     "--published", datetime.now(UTC).date().isoformat())
        assert result.returncode == 0, result.stderr
        message = one_line(result.stderr)
        assert "100%" in message
        assert f"{listing.stat().st_size}/{listing.stat().st_size} bytes" in message
        assert "2 duplicate number(s) dropped" in message
        assert "2 numbers" in message
        # piped (cron mail), the progress line ended in spaces (an empty rate column)
        padded = [line for line in result.stderr.splitlines() if line != line.rstrip()]
        assert padded == [], padded

    def test_gzip_progress_counts_compressed_bytes(self, tmp_path):
        """Of a gzip file the total is its own (compressed) size, which is known."""
        listing = tmp_path / "national.txt.gz"
        listing.write_bytes(gzip.compress(b"".join(
            f"801555{n:04d}\n".encode() for n in range(2000))))
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                     "--published", datetime.now(UTC).date().isoformat())
        assert result.returncode == 0, result.stderr
        size = listing.stat().st_size
        assert re.search(rf"\b{size / 1000:.1f}/{size / 1000:.1f} kB|{size}/{size} bytes",
                         one_line(result.stderr)), result.stderr

    def test_a_name_no_pack_reads_is_refused_unless_new(self, tmp_path):
        """`nationl` is a typo: refused, with the likely name; --new-list creates it."""
        listing = tmp_path / "l.txt"
        listing.write_text("8015550199\n")
        today = datetime.now(UTC).date().isoformat()
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "nationl",
                     "--published", today)
        assert result.returncode == USAGE
        message = one_line(result.stderr)
        assert "did you mean 'national'" in message
        assert "--new-list" in message
        assert not (tmp_path / "lists" / "nationl").exists()
        assert cli(tmp_path, "dnc", "import", str(listing), "--list", "nationl",
                   "--published", today, "--covers", "all", "--new-list").returncode == 0

    def test_first_state_import_needs_covers_then_keeps_it(self, tmp_path):
        """A state list's first import must say what it covers; the next keeps it."""
        listing = tmp_path / "ut.txt"
        listing.write_text("8015550199\n")
        today = datetime.now(UTC).date().isoformat()
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "ut-state",
                     "--published", today)
        assert result.returncode == USAGE
        assert "'all' for a state's list" in one_line(result.stderr)
        assert cli(tmp_path, "dnc", "import", str(listing), "--list", "ut-state",
                   "--published", today, "--covers", "all").returncode == 0
        again = cli(tmp_path, "dnc", "import", str(listing), "--list", "ut-state",
                    "--published", today)
        assert again.returncode == 0, again.stderr
        assert "covering all area codes" in one_line(again.stderr)
        status = json.loads(cli(tmp_path, "dnc", "status", "--json").stdout)
        assert [(x["list"], x["version"], x["covers"]) for x in status["lists"]] == [
            ("ut-state", 2, "all")]

    def test_status_names_the_lists_the_packs_read_and_lack(self, tmp_path):
        """An empty data dir printed an empty table (exit 0) and nothing about the lists
        whose absence BLOCKs every call they cover; `config check` named them."""
        empty = cli(tmp_path, "dnc", "status")
        assert empty.returncode == 0, empty.stderr
        said = one_line(empty.stdout)
        assert f"no list imported in data dir {tmp_path}" in said
        assert "national: no version (read by us-federal, us-ut, us-ut-hb45-2000): every " \
               "call it covers is BLOCKed" in said
        assert "┃" not in empty.stdout  # no empty table
        assert not (tmp_path / "lists").exists()  # reading made nothing
        listing = tmp_path / "l.txt"
        listing.write_text("8015550199\n")
        assert cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                   "--published", PUBLISHED).returncode == 0
        status = json.loads(cli(tmp_path, "dnc", "status", "--json").stdout)
        assert [x["list"] for x in status["lists"]] == ["national"]
        assert status["missing"] == [{"list": "ut-state", "read_by": ["us-ut-hb45-2000"]}]
        assert "ut-state: no version" in one_line(cli(tmp_path, "dnc", "status").stdout)

    def test_check_exit_status_says_listed_for_a_script(self, tmp_path):
        """`dnc check` exited 0 whether or not a list held the number: a script could not
        use it. 0 not listed (every list covers the area code), 1 listed on a do-not-call
        list or on one that does not cover the area code (the gate BLOCKs both), 2 a usage
        error; an attribute list (wireless) is shown and is not a do-not-call listing."""
        listing, wireless = tmp_path / "l.txt", tmp_path / "w.txt"
        listing.write_text("8015550199\n")
        wireless.write_text("8015550123\n")
        assert cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                   "--published", PUBLISHED, "--covers", "801").returncode == 0
        assert cli(tmp_path, "attributes", "import", str(wireless), "--kind", "wireless",
                   "--published", PUBLISHED, "--covers", "all").returncode == 0
        for flags in ((), ("--json",)):
            listed = cli(tmp_path, "dnc", "check", "8015550199", *flags)
            assert listed.returncode == 1, listed.stdout + listed.stderr
            clear = cli(tmp_path, "dnc", "check", "8015550123", *flags)
            assert clear.returncode == 0, clear.stdout + clear.stderr
            uncovered = cli(tmp_path, "dnc", "check", "3035550123", *flags)
            assert uncovered.returncode == 1, uncovered.stdout + uncovered.stderr
            bad = cli(tmp_path, "dnc", "check", "801555019", *flags)
            assert bad.returncode == USAGE
            assert "801555019" not in bad.stderr  # never in clear, even mistyped
        assert "national v1: listed" in cli(tmp_path, "dnc", "check", "8015550199").stdout
        shown = cli(tmp_path, "dnc", "check", "8015550123").stdout
        assert "attr-wireless v1: listed (attribute list: not a do-not-call listing)" in shown
        rows = json.loads(cli(tmp_path, "dnc", "check", "8015550123", "--json").stdout)["lists"]
        assert {r["list"]: r["do_not_call"] for r in rows} == {"attr-wireless": False,
                                                              "national": True}
        # only an attribute list loaded: "not listed" on no do-not-call list is no answer
        alone = tmp_path / "alone"
        alone.mkdir()
        assert cli(alone, "attributes", "import", str(wireless), "--kind", "wireless",
                   "--published", PUBLISHED, "--covers", "all").returncode == 0
        refused = cli(alone, "dnc", "check", "8015550199")
        assert refused.returncode == USAGE, refused.stdout + refused.stderr
        assert "no do-not-call list" in one_line(refused.stderr)
        help_text = one_line(cli(tmp_path, "dnc", "check", "--help").stdout)
        assert "Exit 0: no do-not-call list holds NUMBER" in help_text

    @pytest.mark.parametrize("command", [
        ("dnc", "import", "--list", "ut-state", "--covers", "all"),
        ("attributes", "import", "--kind", "wireless", "--covers", "all")],
        ids=["dnc", "attributes"])
    def test_a_download_cut_short_does_not_replace_the_list(self, tmp_path, command):
        """A registry file cut at a line boundary (a dropped transfer) parses cleanly: 200
        of 2,000 numbers replaced the whole list, and the 1,800 people it lost were called
        as not listed (from a wireless list: as landlines). Refused (exit 1, nothing
        published) past --max-shrink; --max-shrink 1 takes a list that really shrank."""
        whole, cut = tmp_path / "whole.txt", tmp_path / "cut.txt"
        whole.write_text("".join(f"801555{n:04d}\n" for n in range(2000)))
        cut.write_text("".join(f"801555{n:04d}\n" for n in range(200)))
        group, verb, *options = command

        def load(path, *extra):
            return cli(tmp_path, group, verb, str(path), "--published", PUBLISHED,
                       *options, *extra)

        assert load(whole).returncode == 0
        refused = load(cut)
        assert refused.returncode == 1, refused.stderr
        said = one_line(refused.stderr)
        assert "200 numbers against 2,000 in the current" in said, said
        assert "a drop of 90.0%, limit 10%" in said
        assert "--max-shrink 1" in said
        status = json.loads(cli(tmp_path, group, "status", "--json").stdout)
        rows = status["lists"] if group == "dnc" else status["attributes"]
        assert [r["version"] for r in rows if r.get("version")] == [1], rows
        assert "8015551999" not in refused.stderr
        assert load(cut, "--max-shrink", "1").returncode == 0
        assert load(whole).returncode == 0  # growing is never refused

    def test_drop_is_recorded_and_refused_for_a_list_packs_read(self, tmp_path):
        """A stray list is dropped and the drop is in the compliance log; national is not."""
        listing = tmp_path / "l.txt"
        listing.write_text("8015550199\n")
        today = datetime.now(UTC).date().isoformat()
        for name, extra in (("nationl", ["--new-list"]), ("national", [])):
            assert cli(tmp_path, "dnc", "import", str(listing), "--list", name, "--published",
                       today, "--covers", "all", *extra).returncode == 0
        refused = cli(tmp_path, "dnc", "drop", "national")
        assert refused.returncode == USAGE
        assert "rollback" in one_line(refused.stderr)
        dropped = cli(tmp_path, "dnc", "drop", "nationl")
        assert dropped.returncode == 0, dropped.stderr
        status = json.loads(cli(tmp_path, "dnc", "status", "--json").stdout)
        assert [x["list"] for x in status["lists"]] == ["national"]
        changes = [json.loads(line) for line in
                   (tmp_path / "compliance.jsonl").read_text().splitlines()]
        assert [(c["event"], c["action"], c["list"]) for c in changes] == [
            ("list-change", "publish", "nationl"), ("list-change", "publish", "national"),
            ("list-change", "drop", "nationl")]
        assert cli(tmp_path, "dnc", "drop", "nationl").returncode == USAGE  # gone


def _every_command():
    """(path, command) for every command and group of the CLI, the root included."""
    context = click.Context(root)
    found, todo = [], [((), root)]
    while todo:
        path, command = todo.pop()
        found.append((path, command))
        if isinstance(command, click.Group):
            todo.extend(((*path, name), command.get_command(context, name))
                        for name in command.list_commands(context))
    return found


class TestHelp:
    """Every command's --help says what it does and what each option is for."""

    def test_every_command_and_option_is_explained(self):
        """An option with no help text shows a bare `--campaign TEXT` (main: 25 such
        options, scrub's --campaign and --mode among them)."""
        unexplained = []
        for path, command in _every_command():
            if not (command.help or command.short_help):
                unexplained.append(" ".join(path) or "callguard")
            unexplained.extend(f"{' '.join(path)} {param.opts[0]}" for param in command.params
                               if isinstance(param, click.Option) and not param.help
                               and "--help" not in param.opts)
        assert unexplained == []
        assert len(_every_command()) > 30  # the walk reached the subcommands

    def test_a_mistyped_command_is_answered_with_the_one_meant(self, tmp_path):
        """`callguard dnc chek` said "Did you mean 'check'?" but `callguard chek` only "No
        such command": the lazily imported top-level commands were not offered."""
        result = cli(tmp_path, "chek", "8015550199")
        assert result.returncode == USAGE
        assert "No such command 'chek'. Did you mean 'check'?" in one_line(result.stderr)
        assert "Did you mean 'report'?" in one_line(cli(tmp_path, "reprot").stderr)

    def test_every_command_listing_reads_whole(self):
        """A group's listing shows each command's first sentence: `dnc drop`'s was cut at
        "e.g." inside a parenthesis ("Remove LIST (one no enabled pack reads, e.g."), and
        `dnc`'s own help named four of its five commands (drop missing)."""
        cut = []
        for path, command in _every_command():
            shown = command.short_help or make_default_short_help(command.help or "", 1000)
            if shown.count("(") != shown.count(")") or shown.endswith(("e.g.", "i.e.")):
                cut.append(f"{' '.join(path)}: {shown}")
        assert cut == []
        group = root.get_command(click.Context(root), "dnc")
        assert isinstance(group, click.Group)
        for name in group.list_commands(click.Context(group)):
            assert name in (group.help or ""), name

    def test_every_help_runs_and_shows_the_option_help(self):
        """`callguard ... --help` for every command, as a user types it: exit 0, no data
        dir or configuration needed, and the help text on the page. In a child process:
        the CLI's group callback sets the process umask (0077) and the logging, which
        must not leak into this test process (a later test's `git clone` and venv were
        made unreadable to the user it switches to)."""
        child = subprocess.run([sys.executable, "-c", _HELP_WALK], capture_output=True,
                               text=True, cwd=ROOT, timeout=300, check=False, env={
                                   **os.environ,
                                   "CALLGUARD_DATA_DIR": "/nonexistent/callguard-help"})
        assert child.returncode == 0, child.stderr
        report = json.loads(child.stdout)
        assert report["problems"] == []
        assert report["commands"] > 30  # the walk reached the subcommands
        assert "Campaign id from the configuration." in one_line(report["scrub"])


# Run by the test above in a child process: every command's --help through click's runner.
_HELP_WALK = """
import json
from click.testing import CliRunner
from callguard.cli.main import cli as root
from tests.test_cli_ux import _every_command
found = _every_command()
problems = []
for path, command in found:
    result = CliRunner().invoke(root, [*path, "--help"])
    if result.exit_code != 0 or "Usage:" not in result.output:
        problems.append([list(path), result.exit_code, result.output[-300:]])
    problems.extend([list(path), param.opts[0]] for param in command.params
                    if getattr(param, "help", None) and param.opts[0] not in result.output)
scrub = CliRunner().invoke(root, ["scrub", "--help"]).output
print(json.dumps({"problems": problems, "commands": len(found), "scrub": scrub}))
"""


class TestContradictions:
    """Two options that cannot both hold: a usage error naming both, never one ignored."""

    @pytest.mark.parametrize(("args", "words"), [
        (["report", "--csv", "--json"], "--json and --csv both print"),
        (["report", "--file", "{log}", "--stream"], "and --stream: give one of them"),
        (["tail", "--file", "{log}", "--stream"], "and --stream: give one of them"),
        (["tail", "-f", "--until", "1h"], "-f shows records as they are written"),
        (["archive", "--file", "{log}", "--stream"], "and --stream: give one of them"),
        (["purge", "--yes", "--dry-run"], "--yes destroys and --dry-run only counts"),
    ])
    def test_refused_before_anything_is_read(self, node, args, words):
        """main: report printed the JSON alone, --stream won over --file (asking Redis),
        `tail -f --until` followed forever, `purge --yes --dry-run` counted."""
        root, _ = node
        log = str(root / "compliance.jsonl")
        before = (root / "compliance.jsonl").read_bytes()
        result = cli(root, *(a.replace("{log}", log) for a in args))
        assert result.returncode == USAGE, (args, result.stdout, result.stderr)
        assert words in one_line(result.stderr), result.stderr
        assert result.stdout == ""
        assert (root / "compliance.jsonl").read_bytes() == before


class TestNumbersInRange:
    """A number option outside what it can mean is a usage error naming the option."""

    @pytest.mark.parametrize("args", [
        ["purge", "--older-than", "99999999999"],  # main: internal error, OverflowError
        ["archive", "--threads", "0"],  # main: internal error from DuckDB
        ["archive", "--watch", "0"],  # main: archived in a busy loop until killed
        ["archive", "--keep-segments-days", "-5"],  # -1 means keep; -5 meant nothing
        ["archive", "--months-after-days", "-2"],
        ["health", "--timeout", "-1"],  # main: internal error, ValueError
        ["dnc", "import", "{list}", "--list", "national", "--published", PUBLISHED,
         "--max-bad-share", "-1"],  # main: "refused ... limit -100.00%", exit 1
        ["attributes", "import", "{list}", "--kind", "wireless", "--published", PUBLISHED,
         "--max-bad-share", "2"],  # main: taken
        ["serve", "--reload-seconds", "0"],
        ["packs", "check", "{list}", "--within-days", "-1"],
    ])
    def test_refused_naming_the_option(self, tmp_path, args):
        listing = tmp_path / "l.txt"
        listing.write_text("8015550199\n")
        result = cli(tmp_path, *(str(listing) if a == "{list}" else a for a in args))
        assert result.returncode == USAGE, (args, result.stdout, result.stderr)
        option = next(a for a in args if a.startswith("--") and a not in (
            "--list", "--published", "--kind"))
        assert f"Invalid value for '{option}'" in result.stderr, result.stderr
        assert not (tmp_path / "lists").exists()  # nothing was imported


_SELLER = ("--campaign", "ut-solar-manual")
# Every leaf command with arguments that would otherwise let it run.
_WALK = {
    "check": ("check", "8015550123", *_SELLER),
    "dnc import": ("dnc", "import", "{list}", "--list", "national", "--published", "{today}"),
    "dnc status": ("dnc", "status"),
    "dnc check": ("dnc", "check", "8015550123"),
    "dnc rollback": ("dnc", "rollback", "--list", "national"),
    "dnc drop": ("dnc", "drop", "nationl"),
    "attributes import": ("attributes", "import", "{list}", "--kind", "wireless",
                          "--published", "{today}"),
    "attributes status": ("attributes", "status"),
    "internal-dnc add": ("internal-dnc", "add", "8015550123", *_SELLER),
    "internal-dnc show": ("internal-dnc", "show", "8015550123", *_SELLER),
    "internal-dnc import": ("internal-dnc", "import", "{csv}", *_SELLER),
    "consent add": ("consent", "add", "8015550123", "--kind", "written", *_SELLER),
    "consent revoke": ("consent", "revoke", "8015550123", "--kind", "written", *_SELLER),
    "consent show": ("consent", "show", "8015550123", *_SELLER),
    "consent import": ("consent", "import", "{csv}", *_SELLER),
    "ebr add": ("ebr", "add", "8015550123", "--last-inquiry", "{today}", *_SELLER),
    "ebr end": ("ebr", "end", "8015550123", *_SELLER),
    "ebr show": ("ebr", "show", "8015550123", *_SELLER),
    "ebr import": ("ebr", "import", "{csv}", *_SELLER),
    "scrub": ("scrub", "{csv}", *_SELLER, "--at", AT),
    "serve": ("serve",),
    "purge": ("purge", "--yes"),
    "records-accept-older": ("records-accept-older", "--reason", "re-recorded"),
    "archive": ("archive",),
    "archive --stream": ("archive", "--stream"),  # made DATA/archive before the stream
    "tail": ("tail",),
    "report": ("report",),
    "evidence": ("evidence", "8015550123"),
    "explain": ("explain", "01234567-89ab-4def-8123-456789abcdef"),
    # need no data dir: they create nothing there and may run without one
    "config check": ("config", "check"),
    "campaigns list": ("campaigns", "list"),
    "packs show": ("packs", "show", "us-ut"),
    "packs check": ("packs", "check", str(ROOT / "callguard" / "data" / "jurisdictions")),
    "health": ("health", "--timeout", "0.2"),
    "init": ("init", "{site}"),
    "demo": ("demo",),
}
_MAY_RUN = frozenset({"config check", "campaigns list", "packs show", "packs check", "health",
                      "init", "demo"})


class TestMissingDataDir:
    """A mistyped --data-dir made that directory and a new random log key (``check`` records
    its decision there): the node's records and these were hashed under two keys, and a
    lookup by number found nothing. Every command but the few that need no data dir is a
    usage error naming it; none creates it."""

    def test_every_command_is_walked(self):
        leaves = {" ".join(path) for path, command in _every_command()
                  if not isinstance(command, click.Group)}
        assert leaves == {name for name in _WALK if "--" not in name}

    @pytest.mark.parametrize("name", sorted(_WALK))
    def test_a_missing_data_dir_is_refused_and_never_made(self, tmp_path, name):
        missing = tmp_path / "data-dri"  # the typo
        listing = tmp_path / "l.txt"
        listing.write_text("8015550123\n")
        csv_file = tmp_path / "leads.csv"
        csv_file.write_text("number\n8015550123\n")
        today = datetime.now(UTC).date().isoformat()
        args = [a.format(list=listing, csv=csv_file, today=today, site=tmp_path / "site")
                for a in _WALK[name]]
        environment = {**os.environ}
        for variable in ("COLUMNS", "LINES", "CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR",
                         "CALLGUARD_LOG_KEY"):
            environment.pop(variable, None)
        environment["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # the demo's default stays here
        result = subprocess.run([sys.executable, "-m", "callguard", "--data-dir", str(missing),
                                 *args], capture_output=True, text=True, env=environment,
                                cwd=ROOT, timeout=120, check=False)
        assert "Traceback" not in result.stderr, result.stderr
        if name == "demo":
            # the demo's directory is the one --data-dir names (as `demo --data-dir`): new,
            # made by the demo and marked as its own, never another one
            assert result.returncode == 0, result.stderr
            assert (missing / ".callguard-demo").is_file()
            assert not (tmp_path / "xdg").exists()
            return
        assert not missing.exists(), (name, result.returncode, result.stderr[-500:])
        assert not (tmp_path / "xdg").exists()
        if name in _MAY_RUN:
            return
        assert result.returncode == USAGE, (name, result.stdout, result.stderr)
        assert str(missing) in one_line(result.stderr), result.stderr

    def test_serve_makes_only_the_data_dir_its_configuration_names(self, tmp_path):
        """``serve``'s first start makes the configured data dir (init DIR, then serve), not
        one given by --data-dir or CALLGUARD_DATA_DIR: that is where a typo comes from."""
        from callguard.datadir import missing_data_dir

        missing = tmp_path / "data"
        assert missing_data_dir(missing, "default: data/ beside the configuration file",
                                "serve") is None
        for source in ("--data-dir", "CALLGUARD_DATA_DIR"):
            assert "no data directory at" in (missing_data_dir(missing, source, "serve") or "")
        assert missing_data_dir(missing, "[callguard] data_dir in c.toml", "check")

    def test_init_makes_the_data_dir_its_configuration_names(self, tmp_path):
        """``init DIR`` then ``dnc import`` (README's first steps off /etc): init makes
        DIR/data, 0700, so the import that follows is not refused."""
        site = tmp_path / "site"
        made = subprocess.run([sys.executable, "-m", "callguard", "init", str(site)],
                              capture_output=True, text=True, cwd=ROOT, timeout=60,
                              check=False)
        assert made.returncode == 0, made.stderr
        assert (site / "data").is_dir()
        assert (site / "data").stat().st_mode & 0o777 == 0o700
        assert list((site / "data").iterdir()) == []


def test_the_last_resort_message_names_no_number() -> None:
    """An unexpected error may repeat the input it choked on; its line on stderr (cron
    mail, journald) keeps the last four digits only, and section names stay literal."""
    from callguard.cli.main import internal_error_text

    text = internal_error_text(ValueError("cannot read +1 801-555-0123 in [ami]"))
    assert "801" not in text
    assert "555" not in text
    assert "[number …0123]" in text
    assert "ValueError" in text
    assert "\\[ami]" in text

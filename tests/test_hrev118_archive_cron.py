"""README's cron line for the archiver (session 27, hrev118).

A file in /etc/cron.d runs its commands with cron's PATH, /usr/bin:/bin (crontab(5); the
PATH= of /etc/crontab is that file's alone): `callguard-admin`, which the steps install in
/usr/local/sbin, is not found there ("callguard-admin: not found", mailed to root every
five minutes, nothing archived). And a run longer than the interval is joined by the next
ones, each waiting on the archive's lock: `flock -n` skips them instead."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_the_archive_cron_line_runs_callguard_admin_by_its_installed_path() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text[text.index("## The archive: evidence and reports for five years"):]
    line = re.search(r"`(\*/5 [^`]*archive)`", section)
    assert line is not None, section[:600]
    words = line.group(1).split()
    assert words[5] == "root", words
    assert "install -m 0755 /opt/callguard/src/systemd/callguard-admin /usr/local/sbin/" in text
    assert "/usr/local/sbin/callguard-admin" in words, words
    assert words[6:8] == ["flock", "-n"], words


def test_every_cron_line_names_callguard_admin_by_its_installed_path() -> None:
    """The same PATH for every line README gives for /etc/cron.d (lead, session 27): the
    list imports' lines said `root callguard-admin dnc import ...`, not found under cron's
    PATH — no copy imported, and 31 days later every call BLOCKed for the list's age."""
    text = " ".join((ROOT / "README.md").read_text().split())
    lines = re.findall(r"`((?:\S+ ){5}root [^`]*)`", text)
    named = [line for line in lines if "callguard" in line]
    assert len(named) >= 4, lines  # two list imports, the archiver, the segment compressor
    for line in named:
        for word in line.split()[6:]:
            if word.endswith("callguard-admin") or word.endswith("bin/callguard"):
                assert word.startswith("/"), line

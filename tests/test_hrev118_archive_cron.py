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

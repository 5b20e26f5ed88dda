"""Review of hcli32 (hrev154): a record CSV row with an extension quotes its number once,
and every command that writes a compliance record stays refused first for a ``[log] file``
no command can use.

Real parts: the importer's pure core read directly; ``common.LOG_USE`` against the commands
that write a record (decisions, record and list changes, a purge, the archive's segments).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from callguard.cli.common import LOG_USE, READS, WRITES, log_checked_first
from callguard.cli.config_check import _writable_problems
from callguard.config import load_settings
from callguard.numbers import NumberParser
from callguard.resources import bundled_config
from callguard.stores.record_csv import read_record_csv

# Each writes a compliance record: moved to READS or UNUSED, it would act and acknowledge
# with a log nothing can write (fail open). ``archive`` (it takes the log's segments) is a
# reader since hcli33: with --file COPY or --stream it never opens [log] file, and archiving
# [log] file it runs the same check (``log_file_unusable``) before anything is taken
# (tests/test_hcli33_archive_log.py: a plain archive is still refused, exit 2).
WRITERS = {
    "check", "scrub", "serve", "purge", "records-accept-older",
    "dnc import", "dnc rollback", "dnc drop", "attributes import",
    "internal-dnc add", "internal-dnc import", "consent add", "consent revoke",
    "consent import", "ebr add", "ebr end", "ebr import",
}


def test_every_command_that_writes_a_record_is_checked_first() -> None:
    assert {path for path, use in LOG_USE.items() if use == WRITES} == WRITERS
    assert all(log_checked_first(path) for path in WRITERS)
    assert LOG_USE["archive"] == READS
    assert log_checked_first("dnc")  # not a command of the table: fail closed
    assert log_checked_first(None)


@pytest.mark.parametrize("number", ["801555O142 x12", "801555O142 ext 9"])
def test_a_bad_number_with_an_extension_is_quoted_once(number: str) -> None:
    """`internal-dnc import` reads ``NUMBER x12`` as the number without its extension; a
    bad one quoted the cell, then the parser's reason quoted the number again:
    "number '[number …5142 x…]': '[number …5142]' contains letters"."""
    done = read_record_csv(["number,solicitor", f"{number},acme"], "internal-dnc",
                           parser=NumberParser(), solicitors=frozenset({"acme"}))
    assert len(done.errors) == 1, done
    reason = done.errors[0].reason
    assert reason.count("[number …") == 1, reason
    assert reason.startswith("number '[number …5142]' contains letters"), reason
    assert not re.search(r"\d{5}", reason), reason


def test_config_check_says_who_refuses_a_log_that_is_a_directory(tmp_path: Path) -> None:
    """`config check` said "serve, check and the readers refuse it": since hcli32 every
    command that writes a record refuses it, and a reader given ``--file`` does not."""
    (tmp_path / "data").mkdir()
    (tmp_path / "log").mkdir()
    settings = load_settings(bundled_config(), data_dir=tmp_path / "data")
    settings = replace(settings, log=replace(settings.log, file=str(tmp_path / "log")))
    said = " ".join(_writable_problems(settings))
    assert f"[log] file {tmp_path / 'log'} is a directory" in said, said
    assert "every command that writes a compliance record" in said, said
    assert "unless given --file" in said, said

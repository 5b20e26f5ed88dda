"""README's CLI summary names every option each listed command's --help offers.

An admin reads the summary block of README "CLI" to find what a command takes; an option
missing there (``evidence --tz``: the zone of a ``--from``/``--to`` without an offset, UTC
by default — a day in Utah read as the UTC day) is one they never learn of. Each entry of
the block is matched to its click command and every long option of the command must
appear in the entry's lines (the records commands' ``--campaign``/``--solicitor`` are said
once for all, on the block's ``records:`` line).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from callguard.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
RECORDS = {"internal-dnc", "consent", "ebr"}


def _block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## CLI\n"):]
    start = section.index("```\n") + 4
    return section[start:section.index("\n```", start)].splitlines()


def _entries() -> dict[str, str]:
    """Each command path ("dnc import") with the text of its entry (continuation lines
    included)."""
    entries: dict[str, str] = {}
    current: list[str] = []
    for line in _block()[1:]:  # the first line is the program's own usage
        if re.match(r"  \S", line) and not line.startswith("  records:"):
            words = line.split()
            names = [w for w in words[:2] if re.fullmatch(r"[a-z][a-z|-]*", w)]
            current = []
            firsts = names[0].split("|")
            for first in firsts:
                path = " ".join([first, *names[1:]])
                entries[path] = entries.get(path, "") + line
                current.append(path)
        elif line.startswith("   "):
            for path in current:
                entries[path] += line
    return entries


def _command(path: str) -> click.Command:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for word in path.split():
        assert isinstance(command, click.Group), path
        command = command.get_command(ctx, word)
        assert command is not None, f"README names `{path}`, which is not a command"
    assert command is not None
    return command


def test_every_option_of_each_listed_command_is_in_readme() -> None:
    entries = _entries()
    assert {"evidence", "dnc import", "consent add", "init", "health"} <= set(entries)
    missing = []
    for path, text in sorted(entries.items()):
        command = _command(path)
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            longs = [o for o in param.opts if o.startswith("--") and o != "--help"]
            if not longs or (path.split()[0] in RECORDS
                             and longs[0] in ("--campaign", "--solicitor")):
                continue
            spelled = [o for o in param.opts if o != "--help"]  # `tail -f` names --follow
            if not any(re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", text)
                       for o in spelled):
                missing.append(f"{path} {longs[0]}")
    assert missing == [], f"options README's CLI block does not name: {missing}"


def _leaves(group: click.Group, prefix: str = "") -> list[str]:
    ctx = click.Context(group)
    paths: list[str] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            paths += _leaves(command, f"{path} ")
        else:
            paths.append(path)
    return paths


def test_every_command_has_an_entry_in_readme() -> None:
    """The block is the admin's list of commands: one it leaves out (``records-accept-older``,
    the way back after a Redis record store was restored from an older backup) is one they
    find only in a paragraph of "Records"."""
    entries = _entries()
    missing = [path for path in _leaves(cli) if path not in entries]
    assert missing == [], f"commands README's CLI block does not list: {missing}"

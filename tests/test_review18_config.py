"""config: a key where [lists] belongs is a named problem, said once (review hrev18).
`lists = 3` stopped `config check` and `serve` with an internal AttributeError: [lists]
is read by two parts, the second of which never asked whether it was a table."""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.config import ConfigErrors, load_settings


def test_a_value_where_the_lists_section_belongs_is_named_once(tmp_path: Path) -> None:
    path = tmp_path / "callguard.toml"
    path.write_text(f'lists = 3\n[callguard]\ndata_dir = "{tmp_path}"\n')
    with pytest.raises(ConfigErrors) as raised:
        load_settings(path)
    assert raised.value.problems == (
        f"{path} [lists]: must be a table (a [section] heading and its keys), got 3",)


def test_the_command_a_message_asks_for_pastes_with_a_space_in_its_path(tmp_path: Path) -> None:
    """`config check` and serve's lists_missing spell the import with this run's --config;
    a configuration under "/etc/call guard/" was pasted as two words."""
    import shlex

    from callguard.cli.common import invocation

    folder = tmp_path / "call guard"
    folder.mkdir()
    path = folder / "site.toml"
    path.write_text(f'[callguard]\ndata_dir = "{tmp_path}"\n')
    words = shlex.split(invocation(load_settings(path)) + " dnc status")
    assert words == ["callguard", "--config", str(path), "dnc", "status"]

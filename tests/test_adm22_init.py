"""``callguard init DIR``: the file it writes is the site's, never described as the demo.

The bundled demo configuration says of its own data dir "this bundled demo uses
$XDG_DATA_HOME/callguard"; copied as is into /etc/callguard/callguard.toml, an admin read
that the file in front of them was the demo and kept its data in their home directory.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from callguard.cli.main import cli


def test_init_file_does_not_call_itself_the_bundled_demo(tmp_path: Path) -> None:
    site = tmp_path / "callguard"
    result = CliRunner().invoke(cli, ["init", str(site)])
    assert result.exit_code == 0, result.output
    written = (site / "callguard.toml").read_text()
    assert "this bundled demo" not in written
    # what the empty data_dir means is still said, the demo's default named as the demo's
    assert "the bundled demo uses $XDG_DATA_HOME/callguard" in written
    assert f'data_dir = ""   # here: {site.resolve() / "data"}' in written


def test_data_dir_help_says_its_default() -> None:
    """``callguard --help`` said only "Data directory": where it is without the option
    (which decides where the records go) was in README alone."""
    said = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    assert "[callguard] data_dir, else /var/lib/NAME for a file under /etc/NAME/" in said
    assert "Never created" in said

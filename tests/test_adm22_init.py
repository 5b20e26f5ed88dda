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


def test_init_over_an_existing_secrets_file_says_it_kept_it_and_its_mode(
        tmp_path: Path) -> None:
    """``init --force`` (or init into a directory holding a secrets.env) keeps that file,
    and said "secrets.env (mode 0600 ...)" whatever its mode: a 0644 file of secrets read
    as safe."""
    site = tmp_path / "callguard"
    site.mkdir()
    secrets = site / "secrets.env"
    secrets.write_text("CALLGUARD_HTTP_TOKEN=abcdefghijklmnopqrstuvwxyz\n")
    secrets.chmod(0o644)
    result = CliRunner().invoke(cli, ["init", str(site)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"secrets: {secrets} kept as it was (mode 0644)" in said
    assert "chmod 0600" in said
    assert "mode 0600;" not in said
    assert secrets.read_text() == "CALLGUARD_HTTP_TOKEN=abcdefghijklmnopqrstuvwxyz\n"
    secrets.chmod(0o600)
    again = CliRunner().invoke(cli, ["init", "--force", str(site)])
    assert again.exit_code == 0, again.output
    assert f"secrets: {secrets} kept as it was (mode 0600)" in again.output
    assert "chmod" not in again.output


def test_init_names_the_guide(tmp_path: Path) -> None:
    """Its output cites README sections; a site that installed the wheel had no README to
    open (the wheel now carries it beside the unit: share/callguard/README.md)."""
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "callguard")])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("guide: ")]
    guide = Path(line.removeprefix("guide: "))
    assert guide.name == "README.md"
    assert guide.is_file()
    assert guide.read_text().startswith("# callguard\n")

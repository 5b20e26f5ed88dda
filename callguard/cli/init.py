"""``callguard init DIR``: a starter configuration for a site, from the bundled demo.

It writes ``DIR/callguard.toml`` (every key commented, the demo's campaigns as examples to
replace) and ``DIR/secrets.env`` (0600, every secret commented out). The packs are not
copied: ``packs_dir = ""`` reads the packs installed with callguard, so an upgrade brings
amended law (new pack versions with their effective dates) with no copy to forget.
``--copy-packs`` copies them to ``DIR/jurisdictions`` instead, for a site whose counsel
reviews every pack change before it applies: that copy changes only when the site
changes it. The data dir beside the file (``DIR/data``) is made here, 0700: every other
command but ``serve`` refuses a missing one. ``/var/lib/NAME`` for a file under ``/etc``
is the unit's ``StateDirectory`` (or ``install -d``), not made here.

It also says where the files an admin installs beside the package are: the systemd unit,
``callguard-admin``, the Asterisk dialplan and manager.conf include, the Prometheus alerts
and the Grafana dashboard. A wheel carries them as data files (``<venv>/share/callguard/``,
pyproject's ``data-files``); a checkout has them at its root, in the same layout.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

import click

from callguard.cli.common import usage_error
from callguard.datadir import default_data_dir
from callguard.resources import bundled_config, packs_dir

__all__ = ["admin_files_dir", "init", "starter_config"]

# The files beside the package, relative to share/callguard/ (a wheel) or a checkout's root.
_UNIT = "systemd/callguard.service"
ADMIN_FILES = (_UNIT, "systemd/callguard-admin", "asterisk-dialplan/extensions-callguard.conf",
               "asterisk-dialplan/manager-callguard.conf",
               "monitoring/prometheus/callguard-alerts.yml",
               "monitoring/grafana/callguard-dashboard.json")

_SECRETS = """\
# callguard's secrets, read by the systemd unit (EnvironmentFile=) and by callguard-admin.
# Mode 0600, owned by root (callguard-admin refuses a file others could have written).
# Uncomment what the configuration needs: NAME=value, nothing after the value (systemd
# keeps a trailing "# comment" as part of the value). Both read it by systemd's rules:
# "$" is kept as typed, never expanded; quotes are stripped.
#
# [http] enabled: at least 16 characters
#CALLGUARD_HTTP_TOKEN=
# hex, at least 32 digits (openssl rand -hex 32); the same on every node (else
# <data_dir>/log.key)
#CALLGUARD_LOG_KEY=
# [redis]: the server's requirepass
#CALLGUARD_REDIS_PASSWORD=
# [ami] enabled: the secret of manager.conf's [callguard] user
#CALLGUARD_AMI_SECRET=
"""


def admin_files_dir() -> Path | None:
    """Where the unit, ``callguard-admin`` and the dialplan are: the installed
    distribution's ``share/callguard`` (found through its RECORD, whatever the install
    scheme: a venv, ``--user``, ``--prefix``), else the checkout this module runs from;
    None when neither has them."""
    try:
        dist = metadata.distribution("callguard")
    except metadata.PackageNotFoundError:
        units: list[Path] = []
    else:
        units = [Path(str(dist.locate_file(entry))).resolve() for entry in dist.files or []
                 if entry.as_posix().endswith(f"share/callguard/{_UNIT}")]
    for unit in units:
        if unit.is_file():
            return unit.parents[1]
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / _UNIT).is_file() else None


def starter_config(target: Path, *, copy_packs: bool) -> str:
    """The bundled demo configuration, rewritten for a file at ``target``."""
    text = bundled_config().read_text()
    choice = default_data_dir(target)
    old_packs = 'packs_dir = "jurisdictions"\n'
    old_data = 'data_dir = ""\n'
    if old_packs not in text or old_data not in text:
        raise RuntimeError("the bundled configuration has no packs_dir/data_dir line to set")
    packs = old_packs if copy_packs else (
        'packs_dir = ""   # the packs installed with callguard (callguard init --copy-packs '
        "pins a copy)\n")
    data = f'data_dir = ""   # here: {choice.path} ({choice.source})\n'
    header = ("# callguard configuration written by `callguard init`: replace the demo campaigns\n"
              "# below with yours, then run `callguard --config THIS-FILE config check`.\n"
              "# Their caller IDs are the NANP's fictional 555-0100..0199, which no one can call\n"
              "# back: config check and serve warn for each until it is the seller's number\n"
              "# that takes do-not-call requests (47 CFR 64.1601(e)(1)).\n")
    # The bundled file's first lines call it "the bundled demo": not this site's copy.
    demo_head = ("# callguard configuration — the bundled demo. `callguard init DIR` writes a "
                 "copy for your\n# site (README \"Installing it for real\"); ")
    text = text.replace(demo_head, "# ", 1)
    # ... and its data_dir comment "this bundled demo uses ~/.local/share/callguard".
    text = text.replace("; this bundled demo uses", "; the bundled demo uses", 1)
    return header + text.replace(old_packs, packs, 1).replace(old_data, data, 1)


def _write(directory: Path, target: Path, secrets: Path, *, copy_packs: bool,
           force: bool) -> bool:
    """The files: the directory, the packs when copied, the configuration, and secrets.env
    unless it exists (never overwritten: it holds the site's secrets). Whether secrets.env
    was written."""
    directory.mkdir(parents=True, exist_ok=True)
    if copy_packs:
        shutil.copytree(packs_dir(), directory / "jurisdictions", dirs_exist_ok=force)
    target.write_text(starter_config(target, copy_packs=copy_packs))
    if secrets.exists():
        return False
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(_SECRETS)
    return True


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--copy-packs", is_flag=True,
              help="Copy the packs to DIR/jurisdictions (pinned) instead of reading the "
                   "installed ones.")
@click.option("--force", is_flag=True, help="Overwrite an existing callguard.toml.")
def init(directory: Path, copy_packs: bool, force: bool) -> None:
    """Write a starter configuration (DIR/callguard.toml, DIR/secrets.env) to edit."""
    if directory.exists() and not directory.is_dir():
        usage_error(f"{directory} is not a directory; give the directory to write into, "
                    "e.g. /etc/callguard")
    target = directory / "callguard.toml"
    if target.exists() and not force:
        usage_error(f"{target} exists; edit it, or add --force to overwrite it")
    secrets = directory / "secrets.env"
    try:
        wrote_secrets = _write(directory, target, secrets, copy_packs=copy_packs,
                               force=force)
    except FileExistsError as exc:  # --copy-packs into a DIR that has them
        usage_error(f"{exc.filename} exists; add --force to overwrite the copied packs")
    except OSError as exc:  # a path the user cannot write: theirs to fix, not a fault
        usage_error(f"cannot write the configuration into {directory}: "
                    f"{exc.strerror or exc} ({exc.filename or directory}); choose a directory "
                    "you can write (as root for /etc/callguard)")
    choice = default_data_dir(target)
    made = ""
    if choice.path == directory.resolve() / "data":  # not /var/lib/NAME: install -d makes it
        # the data dir this configuration names: commands refuse a missing one (a mistyped
        # path must not become a data dir with a new log key), so it is made here, 0700
        try:
            choice.path.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            usage_error(f"cannot make the data dir {choice.path}: {exc.strerror or exc}")
        made = " (made, mode 0700)"
    click.echo(f"wrote {target}" + (f" and {directory / 'jurisdictions'}" if copy_packs else ""))
    if wrote_secrets:
        click.echo(f"secrets: {secrets} (mode 0600; the systemd unit's EnvironmentFile)")
    else:  # an earlier init's, or the site's own: it said "mode 0600" of any mode
        mode = secrets.stat().st_mode & 0o777
        click.echo(f"secrets: {secrets} kept as it was (mode {mode:04o})"
                   + ("; others than its owner may read or write it: chmod 0600 it"
                      if mode & 0o077 else ""))
    click.echo(f"packs: {directory / 'jurisdictions' if copy_packs else packs_dir()}")
    click.echo(f"data dir: {choice.path} ({choice.source}){made}")
    shipped = admin_files_dir()
    if shipped is None:
        click.echo("systemd unit, callguard-admin, dialplan: not installed with this callguard; "
                   "they are in the source tree's systemd/ and asterisk-dialplan/")
    else:
        click.echo("systemd unit, callguard-admin, dialplan (README \"Installing it for real\", "
                   f"\"Wiring it into Asterisk\"): {shipped}/systemd/, "
                   f"{shipped}/asterisk-dialplan/; alerts and dashboard (README "
                   f"\"Monitoring\"): {shipped}/monitoring/")
        if (shipped / "README.md").is_file():  # the admin's guide, which the above cite
            click.echo(f"guide: {shipped / 'README.md'}")
    click.echo("next: edit the campaigns (their caller IDs are fictional 555-01xx numbers), "
               f"then: callguard --config {target} config check")

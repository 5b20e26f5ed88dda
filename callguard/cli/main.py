"""The ``callguard`` command."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click
from rich.markup import escape

from callguard.audit import configure_logging
from callguard.cli.check import check
from callguard.cli.common import EXIT_INTERNAL, EXIT_USAGE, CliState, err_console
from callguard.cli.demo import demo
from callguard.cli.lists import dnc
from callguard.cli.logs import purge, report, tail
from callguard.cli.packs import packs
from callguard.cli.records import consent, ebr, internal_dnc
from callguard.cli.scrub import scrub
from callguard.cli.serve import serve

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), envvar="CALLGUARD_CONFIG",
              help="Configuration file (env CALLGUARD_CONFIG); default: the bundled demo.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="CALLGUARD_DATA_DIR",
              help="Data directory (env CALLGUARD_DATA_DIR).")
@click.version_option(package_name="callguard")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, data_dir: Path | None) -> None:
    """callguard: a telemarketing-law compliance gate for outbound calls."""
    # Operational events go to stderr from the start, so --json output stays clean; the
    # node's real hashing key replaces this ephemeral one when its stores are opened.
    configure_logging(secrets.token_bytes(32))
    ctx.obj = CliState(config, data_dir)


for command in (check, dnc, internal_dnc, consent, ebr, scrub, serve, demo, tail, report,
                purge, packs):
    cli.add_command(command)


def main() -> None:
    """Entry point: usage errors exit 2, unexpected errors 3 — never a bare traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI
        # escape: messages name sections like "[ami]", which rich would read as markup
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__}: "
                          f"{escape(str(exc))}")
        sys.exit(EXIT_INTERNAL)

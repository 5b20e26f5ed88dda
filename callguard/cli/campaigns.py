"""``callguard campaigns list``: the campaigns a node decides for, as configured."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from callguard.cli import output
from callguard.cli.common import CliState
from callguard.cli.render import print_json

__all__ = ["campaigns"]


@click.group()
def campaigns() -> None:
    """The configured campaigns."""


@campaigns.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def list_campaigns(state: CliState, as_json: bool) -> None:
    """Every campaign: seller, caller ID, mode, origin, house policies, registration."""
    settings = state.settings
    rows: list[dict[str, Any]] = []
    for campaign in settings.campaigns.values():
        statutes = [p for p in settings.enabled_packs if settings.packs[p].is_statute]
        rows.append({
            "id": campaign.id,
            "solicitor": campaign.solicitor,
            # the call centre making the calls (its do-not-call list binds them too); null:
            # the seller makes its own
            "telemarketer": campaign.telemarketer,
            "caller_id": campaign.caller_id,
            "default_mode": campaign.default_mode.value,
            "origin_state": campaign.origin_state,
            "statutes": statutes,
            "house_policies": list(campaign.packs),
            "registration": (
                {"number": campaign.registration.number,
                 "expires": campaign.registration.expires.isoformat()}
                if campaign.registration else None),
            "exemption": campaign.exemption.citation if campaign.exemption else None,
        })
    if as_json:
        print_json({"config": str(settings.path), "campaigns": rows})
        return
    # The call centre's column only when a campaign names one (a site whose sellers make
    # their own calls sees the table it saw).
    centres = any(row["telemarketer"] for row in rows)
    table = Table("campaign", "seller", *(["telemarketer"] if centres else []), "caller ID",
                  "mode", "origin", "house policies", "registration / exemption",
                  title=f"campaigns in {settings.path}")
    for row in rows:
        registration = row["registration"]
        table.add_row(row["id"], row["solicitor"],
                      *([row["telemarketer"] or "-"] if centres else []), row["caller_id"],
                      row["default_mode"],
                      row["origin_state"] or "-", ", ".join(row["house_policies"]) or "-",
                      f"{registration['number']} until {registration['expires']}"
                      if registration else (f"exempt {row['exemption']}"
                                            if row["exemption"] else "-"))
    # Never cut: piped or in cron mail, the table is as wide as its content.
    output.print_table(output.console(), table)

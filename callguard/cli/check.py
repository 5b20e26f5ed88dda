"""``callguard check``: one decision through the same gate the fronts use."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click
from rich.markup import escape

from callguard.cli.common import (
    EXIT_ALLOW,
    EXIT_BLOCK,
    EXIT_INTERNAL,
    CliState,
    campaign_or_exit,
    parse_instant,
    run,
    usage_error,
)
from callguard.cli.output import console
from callguard.cli.render import print_decision, print_json
from callguard.decision import Decision
from callguard.fronts.http.readiness import adjtimex_synchronised
from callguard.gate import CheckRequest
from callguard.policy import DialingMode, core

__all__ = ["check"]


@click.command(short_help="Decide whether NUMBER may be called now, or at --at.")
@click.argument("number")
@click.option("--campaign", required=True, help="Campaign id from the configuration.")
@click.option("--mode", type=click.Choice([m.value for m in DialingMode]),
              help="Dialing mode; default: the campaign's.")
@click.option("--at", "at_text", metavar="ISO-8601",
              help="Instant of the call, with UTC offset; default: now.")
@click.option("--tz", "zone", metavar="ZONE", help="Called party's IANA time zone from the CRM.")
@click.option("--postal-code", metavar="ZIP", help="Called party's 5-digit ZIP from the CRM.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.pass_obj
def check(state: CliState, number: str, campaign: str, mode: str | None, at_text: str | None,
          zone: str | None, postal_code: str | None, as_json: bool) -> None:
    """Decide whether NUMBER may be called now, or at the --at instant (exit 0 ALLOW,
    1 BLOCK, 2 usage, 3 error).

    Without --at an ALLOW counts as a call against call-frequency caps (the operator asks
    before dialling); with --at it is a question about that instant, judged read-only."""
    if zone and postal_code:
        usage_error("give --tz or --postal-code, not both")
    at = parse_instant(at_text) if at_text else None
    campaign_or_exit(state.settings, campaign)
    if zone or postal_code:
        _location_or_exit(state, "--tz" if zone else "--postal-code", zone or postal_code)
    runtime = state.runtime()  # a bad log key or store: the admin's to fix first (exit 2)
    if at is None:
        _clock_or_exit(state, runtime.aclose)
    # With --at the operator asks about another instant: no call is placed on this answer,
    # so call-frequency caps are judged on the calls counted and nothing is counted.
    request = CheckRequest(number=number, campaign=campaign, mode=mode, at=at,
                           location=zone or postal_code, front="cli",
                           places_call=at is None)

    async def decide() -> Decision:
        await runtime.start_deciding()
        try:
            return await runtime.gate.check(request)
        finally:
            await runtime.aclose()

    decision = run(decide())
    if as_json:
        print_json(decision.to_dict())
    else:
        print_decision(console(), decision)
    deciding = decision.verdict.deciding
    if deciding is not None and deciding.rule_id == core.INTERNAL_ERROR:
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_ALLOW if decision.allowed else EXIT_BLOCK)


def _location_or_exit(state: CliState, option: str, text: str | None) -> None:
    """A mistyped --tz / --postal-code is the operator's slip, not a call to record as
    BLOCK: refuse it before the gate (a front's bad location still fails closed there)."""
    from callguard.errors import UsageError  # noqa: PLC0415
    from callguard.numbers import parse_location  # noqa: PLC0415

    try:
        parse_location(text or "", regions=state.settings.parser().regions)
    except UsageError as exc:
        usage_error(f"{option} {text!r}: {exc}")


def _clock_or_exit(state: CliState, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A question about now, asked while the kernel says the clock is unsynchronised, gets
    no answer (exit 3, nothing decided or recorded): calling hours are judged on this
    clock, and ``serve``'s /readyz is not ready then either ([http] require_clock_sync).
    ``check`` answered, an ALLOW at 20:55 possibly being 21:05 at the called party."""
    if not state.settings.http.require_clock_sync:
        return
    synced, detail = adjtimex_synchronised()
    if synced:
        return
    console(stderr=True).print(
        f"[red]error:[/red] no answer: {escape(detail)}, and calling hours are judged on "
        "this clock (serve's /readyz is not ready either). Synchronise it (timedatectl "
        "set-ntp true, or start chronyd/ntpd), or ask about a stated instant with --at; "
        "where the host keeps time but the kernel does not say so (a container), set "
        "\\[http] require_clock_sync = false", highlight=False)
    run(close())
    sys.exit(EXIT_INTERNAL)

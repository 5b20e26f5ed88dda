"""Record commands: company-specific do-not-call, consent, business relationships."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, time
from typing import Any, TypeVar

import click
from rich.console import Console

from callguard.cli.common import (
    CliState,
    campaign_or_exit,
    e164_or_exit,
    parse_date,
    parse_instant,
    run,
    usage_error,
)
from callguard.policy import ConsentKind, ConsentRecord
from callguard.stores.interfaces import RecordStores

__all__ = ["consent", "ebr", "internal_dnc"]

_console = Console(stderr=True)
_KINDS = click.Choice([k.value for k in ConsentKind])


T = TypeVar("T")


def _on_records(
    state: CliState,
    campaign: str,
    number: str,
    action: Callable[[RecordStores, str, str], Coroutine[Any, Any, T]],
) -> tuple[str, str, T]:
    """Resolve the solicitor and the number (usage errors exit 2), run one store action."""
    solicitor = campaign_or_exit(state.settings, campaign).solicitor
    e164 = e164_or_exit(state.settings, number)
    runtime = state.runtime()
    try:
        result = run(action(runtime.records, solicitor, e164))
    finally:
        runtime.close()
    return solicitor, e164, result


def _window(text: str | None) -> tuple[time, time] | None:
    if text is None:
        return None
    try:
        start, end = (time.fromisoformat(part) for part in text.split("-"))
    except ValueError:
        usage_error(f"--window {text!r}: use HH:MM-HH:MM, e.g. 07:00-22:00")
    return start, end


@click.group("internal-dnc")
def internal_dnc() -> None:
    """The solicitor's own do-not-call list (47 CFR 64.1200(d)(3))."""


@internal_dnc.command("add")
@click.argument("number")
@click.option("--campaign", required=True, help="Any campaign of the solicitor.")
@click.option("--source", default="cli", show_default=True, help="Where the request came from.")
@click.pass_obj
def dnc_add(state: CliState, number: str, campaign: str, source: str) -> None:
    """Record a do-not-call request; it binds every campaign of the solicitor at once."""
    solicitor, e164, _ = _on_records(
        state, campaign, number,
        lambda records, who, e164: records.add_company_dnc(who, e164, datetime.now(UTC),
                                                           source=source))
    _console.print(f"…{e164[-4:]} is on {solicitor}'s do-not-call list", highlight=False)


@click.group()
def consent() -> None:
    """Consent of a called party to a solicitor."""


@consent.command("add")
@click.argument("number")
@click.option("--campaign", required=True)
@click.option("--kind", required=True, type=_KINDS)
@click.option("--expires", metavar="DATE", help="Last day of the consent (exclusive end).")
@click.option("--granted", metavar="ISO-8601", help="When it was given; default: now.")
@click.option("--window", metavar="HH:MM-HH:MM", help="For calling-hours consent: the window.")
@click.option("--source", default="cli", show_default=True)
@click.option("--evidence", default="", help="Reference to the evidence (never the evidence).")
@click.pass_obj
def consent_add(state: CliState, number: str, campaign: str, kind: str, expires: str | None,
                granted: str | None, window: str | None, source: str, evidence: str) -> None:
    """Record consent of NUMBER to the campaign's solicitor."""
    expires_at = None
    if expires:
        day = parse_date("--expires", expires)
        expires_at = datetime.combine(day, time(), UTC)
    record = ConsentRecord(
        kind=ConsentKind(kind),
        granted_at=parse_instant(granted) if granted else datetime.now(UTC),
        expires_at=expires_at,
        window=_window(window),
    )
    solicitor, e164, _ = _on_records(
        state, campaign, number,
        lambda records, who, e164: records.add_consent(who, e164, record, source=source,
                                                       evidence=evidence))
    _console.print(f"{kind} consent of …{e164[-4:]} to {solicitor} recorded", highlight=False)


@consent.command("revoke")
@click.argument("number")
@click.option("--campaign", required=True)
@click.option("--kind", required=True, type=_KINDS)
@click.pass_obj
def consent_revoke(state: CliState, number: str, campaign: str, kind: str) -> None:
    """Revoke consent at once (the law allows 10 business days; we do it now)."""
    solicitor, e164, count = _on_records(
        state, campaign, number,
        lambda records, who, e164: records.revoke_consent(who, e164, ConsentKind(kind),
                                                          datetime.now(UTC)))
    _console.print(f"revoked {count} {kind} consent(s) of …{e164[-4:]} to {solicitor}",
                   highlight=False)


@click.group()
def ebr() -> None:
    """Established business relationships."""


@ebr.command("add")
@click.argument("number")
@click.option("--campaign", required=True)
@click.option("--last-transaction", metavar="DATE")
@click.option("--last-inquiry", metavar="DATE")
@click.pass_obj
def ebr_add(state: CliState, number: str, campaign: str, last_transaction: str | None,
            last_inquiry: str | None) -> None:
    """Record a purchase/transaction or an inquiry/application."""
    if (last_transaction is None) == (last_inquiry is None):
        usage_error("give exactly one of --last-transaction and --last-inquiry")
    transaction = parse_date("--last-transaction", last_transaction) if last_transaction else None
    inquiry = parse_date("--last-inquiry", last_inquiry) if last_inquiry else None
    solicitor, e164, _ = _on_records(
        state, campaign, number,
        lambda records, who, e164: records.record_ebr(who, e164, last_transaction=transaction,
                                                      last_inquiry=inquiry))
    _console.print(f"business relationship of …{e164[-4:]} with {solicitor} recorded",
                   highlight=False)

"""The solicitor's records as facts: consent, business relationship, company do-not-call."""

from __future__ import annotations

from callguard.facts.registry import register_fact
from callguard.policy import FactKind, Facts, Plan
from callguard.stores.interfaces import RecordStores

__all__ = ["RECORDS"]

RECORDS = "records"  # the store name: the node's RecordStores


@register_fact(FactKind.CONSENT, store=RECORDS)
async def consents(records: RecordStores, plan: Plan, facts: Facts) -> Facts:
    """Every consent of the number to the campaign's solicitor."""
    attempt = plan.attempt
    found = await records.consents(attempt.campaign.solicitor, attempt.number.e164)
    return Facts(facts.lists, found, facts.ebr, facts.company_dnc, facts.fetched, facts.values)


@register_fact(FactKind.EBR, store=RECORDS)
async def ebr(records: RecordStores, plan: Plan, facts: Facts) -> Facts:
    """The number's business relationship with the solicitor."""
    attempt = plan.attempt
    found = await records.ebr(attempt.campaign.solicitor, attempt.number.e164)
    return Facts(facts.lists, facts.consents, found, facts.company_dnc, facts.fetched,
                 facts.values)


@register_fact(FactKind.COMPANY_DNC, store=RECORDS)
async def company_dnc(records: RecordStores, plan: Plan, facts: Facts) -> Facts:
    """The solicitor's do-not-call record of the number; with a ``telemarketer``, its
    record too, in ``Facts.values`` under COMPANY_DNC (``Facts.company_dnc`` stays the
    seller's alone: a request withdraws the seller's consent and relationship only when
    made to the seller, ``exemptions.request_made``).

    Two store reads for such a campaign, one after the other: ``RecordStores`` reads one
    solicitor's record at a time (embedded: an absent pair is a set lookup once
    ``keep_dnc_set`` ran; Redis: one more round trip per call of such a campaign)."""
    attempt = plan.attempt
    campaign = attempt.campaign
    found = await records.company_dnc(campaign.solicitor, attempt.number.e164)
    if campaign.telemarketer is not None:
        held = await records.company_dnc(campaign.telemarketer, attempt.number.e164)
        if held is not None:
            return Facts(facts.lists, facts.consents, facts.ebr, found, facts.fetched,
                         {**facts.values, FactKind.COMPANY_DNC: held})
    # Every field given (here and above), as fetch_facts does: dataclasses.replace
    # inspects the fields on each call, and this fetch runs on every decision (consent and
    # EBR on every listed number's). Positionally, in Facts's field order (lists, consents,
    # ebr, company_dnc, fetched, values): six keywords cost ~0.2 µs more a Facts.
    return Facts(facts.lists, facts.consents, facts.ebr, found, facts.fetched, facts.values)

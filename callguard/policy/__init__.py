"""The pure decision core: CallAttempt + Facts -> Verdict. No I/O, no clock."""

from callguard.policy.calendar import Calendar, Holiday, ProclaimedDay
from callguard.policy.core import refusal
from callguard.policy.engine import Plan, Policy, PolicySettings, call_date, call_date_at
from callguard.policy.model import (
    AUTOMATED_CONSENT,
    RESERVING,
    CallAttempt,
    Campaign,
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    EbrRecord,
    FactKind,
    Facts,
    ListCheck,
    Registration,
    RegistrationExemption,
    revocation_ends,
)
from callguard.policy.outcome import (
    NeedFacts,
    Obligations,
    Outcome,
    PackApplication,
    Status,
    Verdict,
)
from callguard.policy.packs import HOUSE_POLICY, STATUTE, Interpretation, Pack, pack_from_mapping

__all__ = [
    "AUTOMATED_CONSENT",
    "HOUSE_POLICY",
    "RESERVING",
    "STATUTE",
    "Calendar",
    "CallAttempt",
    "Campaign",
    "CompanyDncRecord",
    "ConsentKind",
    "ConsentRecord",
    "DialingMode",
    "EbrRecord",
    "FactKind",
    "Facts",
    "Holiday",
    "Interpretation",
    "ListCheck",
    "NeedFacts",
    "Obligations",
    "Outcome",
    "Pack",
    "PackApplication",
    "Plan",
    "Policy",
    "PolicySettings",
    "ProclaimedDay",
    "Registration",
    "RegistrationExemption",
    "Status",
    "Verdict",
    "call_date",
    "call_date_at",
    "pack_from_mapping",
    "refusal",
    "revocation_ends",
]

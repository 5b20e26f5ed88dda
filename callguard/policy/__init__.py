"""The pure decision core: CallAttempt + Facts -> Verdict. No I/O, no clock."""

from callguard.policy.core import refusal
from callguard.policy.engine import Plan, Policy, PolicySettings
from callguard.policy.model import (
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
)
from callguard.policy.outcome import (
    NeedFacts,
    Obligations,
    Outcome,
    PackApplication,
    Status,
    Verdict,
)
from callguard.policy.packs import Pack, pack_from_mapping

__all__ = [
    "CallAttempt",
    "Campaign",
    "CompanyDncRecord",
    "ConsentKind",
    "ConsentRecord",
    "DialingMode",
    "EbrRecord",
    "FactKind",
    "Facts",
    "ListCheck",
    "NeedFacts",
    "Obligations",
    "Outcome",
    "Pack",
    "PackApplication",
    "Plan",
    "Policy",
    "PolicySettings",
    "Registration",
    "RegistrationExemption",
    "Status",
    "Verdict",
    "pack_from_mapping",
    "refusal",
]

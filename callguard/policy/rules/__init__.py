"""Rule kinds by the name a jurisdiction pack uses for them."""

from collections.abc import Mapping

from callguard.policy.rules.base import (
    ALL_MODES,
    COMMON_KEYS,
    VOICE_MODES,
    Context,
    LocalTime,
    Params,
    Rule,
    RuleHead,
    RuleKind,
)
from callguard.policy.rules.calling_hours import CallingHours
from callguard.policy.rules.campaign import CallerIdPresented, SolicitorRegistration
from callguard.policy.rules.exemptions import EbrTerms, Exemptions, add_months
from callguard.policy.rules.frequency import (
    CallFrequency,
    frequency_claims,
    loaded_caps,
    read_claims,
    reserved_claims,
)
from callguard.policy.rules.lists import ListFreshness, RegistryList
from callguard.policy.rules.reassigned import ReassignedNumbers
from callguard.policy.rules.records import CompanyDoNotCall, ConsentRequired
from callguard.policy.rules.rest_days import RestDays

RULE_KINDS: Mapping[str, type[RuleKind]] = {
    "calling-hours": CallingHours,
    "rest-days": RestDays,
    "registry-list": RegistryList,
    "list-freshness": ListFreshness,
    "company-dnc": CompanyDoNotCall,
    "consent-required": ConsentRequired,
    "registration": SolicitorRegistration,
    "caller-id": CallerIdPresented,
    "reassigned-numbers": ReassignedNumbers,
    "call-frequency": CallFrequency,
}

__all__ = [
    "ALL_MODES",
    "COMMON_KEYS",
    "RULE_KINDS",
    "VOICE_MODES",
    "CallFrequency",
    "CallerIdPresented",
    "CallingHours",
    "CompanyDoNotCall",
    "ConsentRequired",
    "Context",
    "EbrTerms",
    "Exemptions",
    "ListFreshness",
    "LocalTime",
    "Params",
    "ReassignedNumbers",
    "RegistryList",
    "RestDays",
    "Rule",
    "RuleHead",
    "RuleKind",
    "SolicitorRegistration",
    "add_months",
    "frequency_claims",
    "loaded_caps",
    "read_claims",
    "reserved_claims",
]

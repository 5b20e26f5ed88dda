"""Rule kinds by the name a jurisdiction pack uses for them."""

from collections.abc import Callable

from callguard.policy.model import DialingMode
from callguard.policy.rules.base import (
    ALL_MODES,
    VOICE_MODES,
    Context,
    LocalTime,
    Params,
    Rule,
)
from callguard.policy.rules.calling_hours import CallingHours
from callguard.policy.rules.campaign import CallerIdPresented, SolicitorRegistration
from callguard.policy.rules.exemptions import EbrTerms, Exemptions, add_months
from callguard.policy.rules.lists import ListFreshness, RegistryList
from callguard.policy.rules.records import CompanyDoNotCall, ConsentRequired
from callguard.policy.rules.rest_days import RestDays, holiday_name

RuleFactory = Callable[[str, str, frozenset[DialingMode], Params], Rule]

RULE_KINDS: dict[str, RuleFactory] = {
    "calling-hours": CallingHours.from_params,
    "rest-days": RestDays.from_params,
    "registry-list": RegistryList.from_params,
    "list-freshness": ListFreshness.from_params,
    "company-dnc": CompanyDoNotCall.from_params,
    "consent-required": ConsentRequired.from_params,
    "registration": SolicitorRegistration.from_params,
    "caller-id": CallerIdPresented.from_params,
}

__all__ = [
    "ALL_MODES",
    "RULE_KINDS",
    "VOICE_MODES",
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
    "RegistryList",
    "RestDays",
    "Rule",
    "RuleFactory",
    "SolicitorRegistration",
    "add_months",
    "holiday_name",
]

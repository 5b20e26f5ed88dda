"""Rules over the solicitor's records: company-specific do-not-call, required consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from callguard.policy.model import CompanyDncRecord, DialingMode, FactKind
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import EXEMPTION_KEYS, Exemptions
from callguard.policy.rules.number_kind import KIND_LISTS, number_kind
from callguard.policy.schema import Key

__all__ = ["CompanyDoNotCall", "ConsentRequired"]


@dataclass(frozen=True, slots=True)
class CompanyDoNotCall(RuleBase):
    """A number that asked the solicitor not to call is never called by it again."""

    # The PASS of a campaign naming a telemarketer, per (seller, telemarketer): its reason
    # names both lists (``kept`` is keyed by one name).
    _kept_pair: dict[tuple[str, str], Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)

    precedence = 20
    prefetch = frozenset({FactKind.COMPANY_DNC})
    KEYS: ClassVar[Mapping[str, Key]] = {}

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CompanyDoNotCall:
        """No parameters."""
        del params
        return cls(head)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block on any do-not-call record of this solicitor for the number, or of the
        campaign's telemarketer (the entity making the call, 64.1200(d)(3)); the reason
        names whose list held it (the earlier request; the seller's on a tie)."""
        facts = ctx.facts
        if FactKind.COMPANY_DNC not in facts.fetched:
            return NeedFacts(frozenset({FactKind.COMPANY_DNC}))
        campaign = ctx.attempt.campaign
        solicitor = campaign.solicitor
        record = facts.company_dnc
        telemarketer = campaign.telemarketer
        if telemarketer is not None:
            held = facts.values.get(FactKind.COMPANY_DNC)
            if isinstance(held, CompanyDncRecord) and (
                    record is None or held.added_at < record.added_at):
                record, solicitor = held, telemarketer  # whose list holds the request
            elif record is None:
                pair = (solicitor, telemarketer)
                return self._kept_pair.get(pair) or self._kept_pair.setdefault(
                    pair, self.outcome(Status.PASS, f"not on {solicitor}'s or "
                                       f"{telemarketer}'s do-not-call list"))
        if record is None:  # kept by solicitor: most calls
            return self._kept.get(solicitor) or self.kept(solicitor, self.outcome(
                Status.PASS, f"not on {solicitor}'s do-not-call list"))
        if not record.made_by(ctx.attempt.judged_at):
            # A replay or ``check --at`` of an instant before the request: 64.1200(d)(3)
            # binds the seller from the request on, not before it was made.
            return self.outcome(Status.PASS, f"the called party's request to {solicitor} "
                                f"({record.added_at:%Y-%m-%d}) was made after this call's "
                                "instant")
        return self.outcome(
            Status.BLOCK,
            f"the called party asked {solicitor} not to call ({record.added_at:%Y-%m-%d})",
        )


_KIND_NAMES = tuple(name.removeprefix("attr-") for name in KIND_LISTS)


@dataclass(frozen=True, slots=True)
class ConsentRequired(RuleBase):
    """Calls of these modes need a consent record (or, where the law allows, an EBR).

    ``numbers``: ``any``; ``possibly-wireless`` (what libphonenumber cannot rule out);
    ``wireless-or-unknown`` (also read the wireless attribute lists: a number they show
    as wireline is out of the rule, ``callguard.policy.rules.number_kind``).
    ``atds_modes``: modes the rule covers only because the call is made with an automatic
    telephone dialing system; a campaign whose dialer is declared not one
    (``dialer_is_atds = false``) is out of the rule for them.
    """

    exemptions: Exemptions
    possibly_wireless_only: bool
    kind_lists: tuple[str, ...] = ()
    kind_max_age_days: int = 0
    kind_unless_on: tuple[str, ...] = ()
    kind_unless_on_max_age_days: int = 0
    atds_modes: frozenset[DialingMode] = frozenset()

    precedence = 50
    KEYS: ClassVar[Mapping[str, Key]] = {
        "numbers": Key("str", choices=("any", "possibly-wireless", "wireless-or-unknown"),
                       doc="which numbers the rule covers (default any)"),
        "kind_lists": Key("str-list", choices=_KIND_NAMES,
                          doc="wireless-or-unknown: the attribute lists that must all be "
                              "fresh, cover the area code and not mark the number wireless "
                              "before it is taken as wireline"),
        "kind_lists_max_age_days": Key("int", low=1, high=366,
                                       doc="wireless-or-unknown: oldest usable copy"),
        "kind_lists_unless_on": Key("str-list",
                                    doc="wireless-or-unknown: do-not-call lists on which a "
                                        "listed number (or a list not loaded) is never "
                                        "taken as wireline by the kind lists"),
        "kind_lists_unless_on_max_age_days": Key(
            "int", low=1, high=366,
            doc="with kind_lists_unless_on: oldest copy of those lists that can show a "
                "number is not on them (older, undated or future-dated: never wireline)"),
        "atds_modes": Key("str-list", choices=tuple(m.value for m in DialingMode),
                          doc="modes covered only as autodialed calls (47 U.S.C. 227(a)(1))"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> ConsentRequired:
        """Build from ``exempt_consent``, the ``ebr_*`` keys, ``numbers`` and its lists."""
        exemptions = Exemptions.from_params(params)
        if not exemptions.needs:
            raise params.error("a consent-required rule needs exempt_consent or ebr_citation")
        numbers = params.get("numbers", "any")
        kinds = tuple(params.get("kind_lists", ()))
        age = params.get("kind_lists_max_age_days")
        if (numbers == "wireless-or-unknown") != bool(kinds) or bool(kinds) != (age is not None):
            raise params.error("numbers = \"wireless-or-unknown\" goes with kind_lists and "
                               "kind_lists_max_age_days (and they only with it)")
        if kinds and "wireless" not in kinds:
            raise params.error("kind_lists must include \"wireless\"")
        unless_on = tuple(params.get("kind_lists_unless_on", ()))
        if unless_on and not kinds:
            raise params.error("kind_lists_unless_on goes with kind_lists")
        unless_age = params.get("kind_lists_unless_on_max_age_days")
        if bool(unless_on) != (unless_age is not None):
            raise params.error("kind_lists_unless_on and kind_lists_unless_on_max_age_days "
                               "go together (a copy of any age cannot show a number is not "
                               "on the list)")
        return cls(head, exemptions, numbers != "any", tuple(f"attr-{k}" for k in kinds),
                   age or 0, unless_on, unless_age or 0,
                   frozenset(DialingMode(m) for m in params.get("atds_modes", ())))

    @property
    def list_names(self) -> tuple[str, ...]:
        """The wireless attribute lists, when the rule reads them (all three: a fresh
        ported-to-wireline copy can show a wireless block's number as a landline), and
        the do-not-call lists of ``kind_lists_unless_on``."""
        return KIND_LISTS + self.kind_unless_on if self.kind_lists else ()

    def _out_of_rule(self, ctx: Context) -> Outcome | None:
        """EXEMPT (carried, with its reason, into the record) when the number or the
        dialer is outside the rule; NOT_APPLICABLE when the number cannot be wireless."""
        attempt = ctx.attempt
        campaign = attempt.campaign
        if attempt.mode in self.atds_modes and not campaign.dialer_is_atds:
            ref = campaign.counsel_reference or "no counsel reference given"
            return self.outcome(Status.EXEMPT, f"campaign {campaign.id} declares its "
                                f"{attempt.mode.value} dialer is not an automatic telephone "
                                f"dialing system (47 U.S.C. 227(a)(1); Facebook, Inc. v. "
                                f"Duguid, 592 U.S. 395 (2021); {ref})")
        if self.possibly_wireless_only and not attempt.number.possibly_wireless:
            return self.outcome(Status.NOT_APPLICABLE, "number cannot be wireless")
        if self.kind_lists:
            kind = number_kind(ctx, self.kind_lists, self.kind_max_age_days,
                               self.kind_unless_on, self.kind_unless_on_max_age_days)
            if kind.wireline:
                return self.outcome(Status.EXEMPT, f"not a wireless number: {kind.why}")
        return None

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass only on a valid consent of an accepted kind or a live relationship."""
        attempt = ctx.attempt
        out = self._out_of_rule(ctx)
        if out is not None:
            return out
        exemption = self.exemptions.find(ctx)
        if isinstance(exemption, NeedFacts):
            return exemption
        if exemption is not None:
            return self.outcome(Status.PASS, exemption)
        kinds = " or ".join(sorted(k.value for k in self.exemptions.consent_kinds))
        need = f"{kinds} consent to {attempt.campaign.solicitor}"
        if self.exemptions.ebr is not None:
            need += " or an established business relationship"
        wireless = ""
        if self.kind_lists:
            why = number_kind(ctx, self.kind_lists, self.kind_max_age_days,
                              self.kind_unless_on, self.kind_unless_on_max_age_days).why
            wireless = f" to a number that is wireless or of unknown kind ({why})"
        elif self.possibly_wireless_only:
            wireless = " to a possibly wireless number"
        return self.outcome(
            Status.BLOCK, f"{attempt.mode.value} calls{wireless} need {need}; none on record"
            + self.exemptions.withdrawn(ctx),
        )

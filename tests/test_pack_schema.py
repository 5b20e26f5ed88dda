"""The closed pack schema: a typo in a pack must not load and must say what is allowed."""

from __future__ import annotations

import copy
import tomllib
from datetime import date

import pytest

from callguard.errors import ConfigError
from callguard.policy import pack_from_mapping
from tests.conftest import PACKS_DIR


def doc(pack_id: str) -> dict:
    return tomllib.loads((PACKS_DIR / f"{pack_id}.toml").read_text())


def rule(document: dict, rule_id: str) -> dict:
    return next(r for r in document["rules"] if r["id"] == rule_id)


def refused(document: dict, *fragments: str) -> str:
    with pytest.raises(ConfigError) as caught:
        pack_from_mapping(document, origin="packs/x.toml")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


class TestTyposDoNotLoad:
    """Issue 17, kind 1: each of these used to load and loosen the law silently."""

    def test_misspelt_ebr_key_is_refused_with_the_allowed_keys(self):
        """`ebr_after_transaction_month` (no "s") made the EBR last until ended."""
        document = doc("us-ut")
        target = rule(document, "us-ut:13-25a-103(2)")
        target["ebr_after_transaction_month"] = target.pop("ebr_after_transaction_months")
        message = refused(document, "packs/x.toml", "rule us-ut:13-25a-103(2)",
                          "unknown key 'ebr_after_transaction_month'",
                          "allowed keys: amendments, atds_modes, citation, "
                          "ebr_after_inquiry_months, ebr_after_transaction_months, "
                          "ebr_citation, exempt_consent, id, kind, kind_lists, "
                          "kind_lists_max_age_days, kind_lists_unless_on, "
                          "kind_lists_unless_on_max_age_days, modes, notes, numbers, "
                          "revoke_all_from, "
                          "source")
        assert message.index("unknown key") < message.index("allowed keys")

    def test_kind_lists_unless_on_needs_the_kind_lists(self):
        """64.1200(a)(1)(iv)'s registry proviso reads the kind lists; alone it means nothing."""
        document = doc("us-federal")
        target = rule(document, "us-federal:64.1200(a)(3)")
        target["kind_lists_unless_on"] = ["national"]
        refused(document, "rule us-federal:64.1200(a)(3)",
                "kind_lists_unless_on goes with kind_lists")

    def test_kind_lists_unless_on_needs_its_age(self):
        """A registry copy of any age cannot show 64.1200(a)(1)(iv)'s proviso (a number
        registered since is not excused): the age is not optional."""
        document = doc("us-federal")
        target = rule(document, "us-federal:64.1200(a)(2)")
        del target["kind_lists_unless_on_max_age_days"]
        refused(document, "rule us-federal:64.1200(a)(2)",
                "kind_lists_unless_on and kind_lists_unless_on_max_age_days go together")

    def test_area_codes_as_strings_are_refused(self):
        """`["801","385","435"]` made `801 in area_codes` False: Utah only by CRM."""
        document = doc("us-ut")
        document["scope"]["called_party_area_codes"] = ["801", "385", "435"]
        refused(document, "[scope]", "'called_party_area_codes[0]' must be a list of "
                "integers from 200 to 999, not string '801'")

    def test_area_code_out_of_range(self):
        document = doc("us-ut")
        document["scope"]["called_party_area_codes"] = [801, 38]
        refused(document, "'called_party_area_codes[1]' is 38; it must be from 200 to 999")

    def test_called_party_state_must_be_a_state_or_territory(self):
        document = doc("us-ut")
        document["scope"]["called_party_state"] = "Utah"
        refused(document, "'called_party_state' is 'Utah'; allowed:", "'UT'", "'PR'")

    def test_unknown_scope_key(self):
        document = doc("us-ut")
        document["scope"]["called_party_states"] = ["UT"]
        refused(document, "unknown key 'called_party_states' in [scope]",
                "allowed keys: always, called_party_area_codes, called_party_listed_on, "
                "called_party_state, notes, origin_states")

    def test_unknown_pack_key(self):
        document = doc("us-ut")
        document["pack"]["effective_untill"] = date(2030, 1, 1)
        refused(document, "unknown key 'effective_untill' in [pack]", "effective_until")

    def test_pack_must_say_statute_or_house_policy(self):
        document = doc("us-ut")
        del document["pack"]["kind"]
        refused(document, "missing required key 'kind' in [pack]",
                "('statute' or 'house-policy')")

    def test_unknown_top_level_table(self):
        document = doc("us-ut")
        document["rule"] = [{}]
        refused(document, "unknown key 'rule' in the pack file")

    def test_wrong_element_type_in_exempt_consent(self):
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(c)(2)")["exempt_consent"] = ["written", 3]
        refused(document, "'exempt_consent[1]' must be a list of strings", "not integer 3")

    def test_unknown_consent_kind(self):
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(c)(2)")["exempt_consent"] = ["writen"]
        refused(document, "'exempt_consent[0]' is 'writen'; allowed: 'autodialer'")

    def test_unknown_mode(self):
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(a)(2)")["modes"] = ["predictve"]
        refused(document, "'modes[0]' is 'predictve'")

    def test_key_of_another_kind_is_refused(self):
        """`max_age_days` means nothing to a registry-list rule."""
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(c)(2)")["max_age_days"] = 31
        refused(document, "rule us-federal:64.1200(c)(2)", "unknown key 'max_age_days'")

    def test_number_given_as_string(self):
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(c)(2)(i)(D)")["max_age_days"] = "31"
        refused(document, "'max_age_days' must be an integer from 1 to 3660, not string '31'")

    def test_ebr_months_without_citation(self):
        document = doc("us-federal")
        del rule(document, "us-federal:64.1200(c)(2)")["ebr_citation"]
        refused(document, "given without ebr_citation")

    def test_clock_must_be_24_hour(self):
        document = doc("us-federal")
        rule(document, "us-federal:64.1200(c)(1)")["earliest"] = "8am"
        refused(document, "'earliest' is '8am'")

    def test_obligation_schema(self):
        document = doc("us-federal")
        document["obligations"][0]["second"] = 5
        refused(document, "unknown key 'second' in [[obligations]]")

    def test_obligation_seconds_range(self):
        document = doc("us-federal")
        document["obligations"][0]["seconds"] = 0
        refused(document, "'seconds' is 0; it must be from 0.1 to 600")

    def test_exemption_paragraphs_are_strings(self):
        document = doc("us-ut-hb45-2000")
        rule(document, "us-ut-hb45-2000:13-26a-106(1)(a)")["exemption_paragraphs"] = {
            "13-26a-104(1)(a)": 1}
        refused(document, "'13-26a-104(1)(a)' must be a string")

    def test_shipped_packs_load(self):
        """The packs as shipped pass their own schema."""
        for pack_id in ("us-federal", "us-ut", "us-ut-hb45-2000"):
            assert pack_from_mapping(doc(pack_id)).id == pack_id


class TestAmendments:
    """Parameters change by effective date inside one pack; the rule id never changes."""

    def amended(self) -> dict:
        document = doc("us-federal")
        target = rule(document, "us-federal:64.1200(c)(2)(i)(D)")
        target["amendments"] = [{"effective_from": date(2027, 1, 1), "max_age_days": 20,
                                 "source": "a later amendment (example)",
                                 "citation": "47 CFR 64.1200(c)(2)(i)(D) (as amended)"}]
        return document

    def test_versions_by_date_with_a_stable_id(self):
        pack = pack_from_mapping(self.amended())
        before = {r.rule_id: r for r in pack.rules_on(date(2026, 12, 31))}
        after = {r.rule_id: r for r in pack.rules_on(date(2027, 1, 1))}
        rule_id = "us-federal:64.1200(c)(2)(i)(D)"
        assert before[rule_id].max_age_days == 31  # type: ignore[attr-defined]
        assert after[rule_id].max_age_days == 20  # type: ignore[attr-defined]
        assert (before[rule_id].version, after[rule_id].version) == ("2021-11-01", "2027-01-01")
        assert after[rule_id].citation == "47 CFR 64.1200(c)(2)(i)(D) (as amended)"
        assert set(before) == set(after)

    def test_amendment_keys_are_closed_too(self):
        document = self.amended()
        rule(document, "us-federal:64.1200(c)(2)(i)(D)")["amendments"][0]["max_age_day"] = 20
        refused(document, "amendment #1", "unknown key 'max_age_day' in an amendment")

    def test_amendment_needs_its_source(self):
        document = self.amended()
        del rule(document, "us-federal:64.1200(c)(2)(i)(D)")["amendments"][0]["source"]
        refused(document, "missing required key 'source' in an amendment")

    def test_amendments_in_date_order_after_the_pack_begins(self):
        document = self.amended()
        rule(document, "us-federal:64.1200(c)(2)(i)(D)")["amendments"][0]["effective_from"] = (
            date(2021, 1, 1))
        refused(document, "must be after 2021-11-01")

    def test_an_amendment_that_breaks_the_rule_is_refused(self):
        document = self.amended()
        amendment = rule(document, "us-federal:64.1200(c)(2)(i)(D)")["amendments"][0]
        amendment["max_age_months"] = 1  # now both are given
        refused(document, "give exactly one of max_age_days and max_age_months")


class TestInterpretations:
    """Readings the words leave open: declared in the pack, chosen by the site."""

    def test_every_option_is_built_at_load(self):
        """A broken option fails before any site chooses it."""
        document = doc("us-ut")
        reading = next(i for i in document["interpretations"] if i["id"] == "us-ut:between-hours")
        reading["options"]["ends-callable"]["overrides"][0]["ends"] = "sometimes"
        refused(copy.deepcopy(document), "'ends' is 'sometimes'")

    def test_override_must_name_a_rule_of_the_pack(self):
        document = doc("us-ut")
        reading = next(i for i in document["interpretations"] if i["id"] == "us-ut:between-hours")
        reading["options"]["ends-callable"]["overrides"][0]["rule"] = "us-ut:hours"
        refused(document, "no rule 'us-ut:hours' in this pack")

    def test_default_changes_nothing(self):
        document = doc("us-ut")
        reading = next(i for i in document["interpretations"] if i["id"] == "us-ut:between-hours")
        reading["default"] = "ends-callable"
        refused(document, "the default option must change nothing")

    def test_chosen_option_must_exist(self):
        with pytest.raises(ConfigError, match="options are ends-forbidden, ends-callable"):
            pack_from_mapping(doc("us-ut"), choices={"us-ut:between-hours": "maybe"})

    def test_choice_changes_the_rule_and_its_version(self):
        pack = pack_from_mapping(doc("us-federal"),
                                 choices={"us-federal:predictive-dialers": "not-autodialed"})
        target = next(r for r in pack.rules if r.rule_id == "us-federal:64.1200(a)(2)")
        assert {m.value for m in target.modes} == {"prerecorded"}
        assert target.version == "2021-11-01; us-federal:predictive-dialers=not-autodialed"


class TestSupersededOn:
    """Fla. Stat. 501.059(4): a quarterly listing is current until the next one takes its
    place (1 January, April, July, October), whatever its age."""

    FRESHNESS = "us-fl:501.059(4):freshness"

    def freshness(self, document: dict):
        pack = pack_from_mapping(document, origin="packs/x.toml")
        return next(r for r in pack.rules if r.rule_id == self.FRESHNESS)

    @pytest.mark.parametrize(("published", "last"), [
        (date(2026, 7, 1), date(2026, 9, 30)),     # a whole quarter, not three months
        (date(2026, 6, 30), date(2026, 6, 30)),    # the day before the next one: one day
        (date(2026, 4, 22), date(2026, 6, 30)),
        (date(2026, 12, 30), date(2026, 12, 31)),  # across the year
        (date(2026, 1, 31), date(2026, 3, 31)),    # before the month-end clamp (30 April)
    ])
    def test_the_last_day_a_copy_is_current(self, published, last):
        assert self.freshness(doc("us-fl")).last_valid_day(published) == last

    def test_without_it_the_age_alone_limits(self):
        document = doc("us-fl")
        del rule(document, self.FRESHNESS)["superseded_on"]
        assert self.freshness(document).last_valid_day(date(2026, 4, 22)) == date(2026, 7, 22)

    def test_a_copy_is_never_kept_past_its_age(self):
        """A day far from the copy keeps the age limit (here 31 days, the 1 October day)."""
        document = doc("us-fl")
        target = rule(document, self.FRESHNESS)
        del target["max_age_months"]
        target["max_age_days"] = 31
        assert self.freshness(document).last_valid_day(date(2026, 7, 1)) == date(2026, 8, 1)

    def test_a_leap_day_counts_only_in_leap_years(self):
        document = doc("us-fl")
        target = rule(document, self.FRESHNESS)
        target["superseded_on"] = ["02-29"]
        del target["max_age_months"]
        target["max_age_days"] = 3000
        fresh = self.freshness(document)
        assert fresh.next_copy_day(date(2027, 3, 1)) == date(2028, 2, 29)
        assert fresh.next_copy_day(date(2028, 2, 29)) is None  # 2029 has no 29 February

    @pytest.mark.parametrize(("value", "message"), [
        ("4-01", "superseded_on day '4-01' is not MM-DD"),
        ("04/01", "is not MM-DD"),
        ("02-30", "superseded_on day '02-30' is no day of the year"),
        ("13-01", "is no day of the year"),
    ])
    def test_a_day_that_is_not_one_is_refused(self, value, message):
        document = doc("us-fl")
        rule(document, self.FRESHNESS)["superseded_on"] = ["01-01", value]
        refused(document, self.FRESHNESS, message)

    def test_days_are_strings(self):
        document = doc("us-fl")
        rule(document, self.FRESHNESS)["superseded_on"] = [401]
        refused(document, "'superseded_on[0]' must be a list of strings")

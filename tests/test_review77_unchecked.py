"""``unchecked = "block"`` blocks only a call that could rest on the consent (hrev77).

hatt20's key BLOCKed whenever ANY consent record was on file and the reassigned data could
not be checked: a predictive call to a number the fresh attribute lists show is a landline
(47 CFR 64.1200(a)(2): no written consent needed) was BLOCKed for a consent revoked or
expired long ago, on which nothing rests. Such a record lifts no rule; only a consent valid
at the call (given before it, neither expired nor revoked) is one a call can rest on.
Cases run by the shipped case runner, as hatt20's tests.
"""

from __future__ import annotations

import pytest

from tests.test_att20_reassigned_unchecked import RULE, WRITTEN, _case, _docs, check

LANDLINE = ("attr-wireless = { loaded = true, listed = false }\n"
            "attr-ported-wireless = { loaded = true, listed = false }")
REVOKED = ('consents = [{ kind = "written", granted_at = 2025-01-10T00:00:00Z, '
           "revoked_at = 2025-03-01T00:00:00Z }]")
EXPIRED = ('consents = [{ kind = "written", granted_at = 2025-01-10T00:00:00Z, '
           "expires_at = 2025-06-01T00:00:00Z }]")
LATER = 'consents = [{ kind = "written", granted_at = 2026-08-01T00:00:00Z }]'


@pytest.mark.parametrize("consents", [REVOKED, EXPIRED, LATER],
                         ids=["revoked", "expired", "given-after-the-call"])
def test_a_consent_no_call_rests_on_is_not_blocked_for(consents):
    check(_case(LANDLINE, consents, "ALLOW", None), _docs("block"))


def test_a_standing_consent_is_still_blocked_for():
    check(_case(LANDLINE, WRITTEN, "BLOCK", RULE), _docs("block"))

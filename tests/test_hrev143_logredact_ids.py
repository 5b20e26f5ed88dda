"""hrev143: an Asterisk id kept readable in the log (hwd30) holds no phone number.

hwd30 left ``linkedid=``/``uniqueid=`` whole in the shape "<10 digits from 1>.<1-10
digits>". Its counter of ten digits held a whole number: a dialplan making its Linkedid
"${EPOCH}.${NUMBER}" (or a dialer's Originate ChannelId so made) logged
"1795326441.8015550142" in clear. The compliance record already refuses that shape
(callguard/compliance/fields.py ``_LINKEDID``: Asterisk's counter is a C int counted from 0,
of ten digits only past a billion channels, so starting with 1; test_fastagi's
test_a_linkedid_carrying_the_number_is_hashed_in_the_record); the log now agrees with it.
"""

from __future__ import annotations

import random

from callguard.compliance.fields import plausible_linkedid
from callguard.logredact import redact_event


def _logged(key: str, value: str) -> str:
    return str(redact_event(None, "warning", {"event": "watchdog_follow_unread",
                                              key: value})[key])


class TestCounterHoldsNoNumber:
    def test_a_number_as_the_counter_is_taken_out(self):
        """Failed on hwd30: kept whole, 8015550142 in clear."""
        for value in ("1795326441.8015550142", "1795326441.2147483647",
                      "pbx-1795326441.8015550142", "1999999999.4294967295"):
            for key in ("linkedid", "uniqueid"):
                out = _logged(key, value)
                assert "5550142" not in out, (key, value, out)
                assert "[number" in out, (key, value, out)

    def test_asterisks_own_counters_stay_readable(self):
        for value in ("1795326441.0", "1795326441.123456789", "1795326441.1000000142",
                      "1795326441.-5", "pbx-1795326441.42"):
            assert _logged("linkedid", value) == value
            assert plausible_linkedid(value)

    def test_fuzz_a_kept_id_is_one_the_record_keeps_too(self):
        """Random ids, numbers and mixes: whatever the log keeps whole under these keys,
        the compliance record takes for a Linkedid as well, and no 7-digit run of a
        number written into it survives outside its epoch."""
        rng = random.Random(143)
        for _ in range(20000):
            epoch = "1" + "".join(rng.choice("0123456789") for _ in range(9))
            counter = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 11)))
            number = rng.choice(["", "8015550142", "+18015550142", "801.555.0142"])
            value = rng.choice([f"{epoch}.{counter}", f"{epoch}.{number}",
                                f"{number}-{epoch}.{counter}", f"{epoch}.{counter}{number}"])
            out = _logged("linkedid", value)
            if out == value:
                assert plausible_linkedid(value), value
            assert "5550142" not in out, (value, out)

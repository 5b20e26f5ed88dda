"""The fronts a call attempt can come from: one list, so every reader of ``front`` agrees.

The compliance record names its front; the call-frequency rule counts the ALLOWs of some
fronts; the report and the evidence date a decision by the call's instant only when the
front places a call on the answer. Each of those reads one of the sets below.
"""

from __future__ import annotations

__all__ = ["ALL_FRONTS", "ASKING_FRONTS", "DIALLING_FRONTS"]

# Every front a decision record can name (callguard/data/schemas/decision.json "front").
ALL_FRONTS = ("fastagi", "sip", "http", "cli", "scrub")

# Fronts that ask before a real call: a dialer (FastAGI, SIP, HTTP) or a person running
# `callguard check`. ``scrub`` judges a lead file, which places no call.
ASKING_FRONTS = ("fastagi", "sip", "http", "cli")

# Fronts whose decision is a call placed on the answer: dated by the call's instant ``at``.
# Every other decision (a scrub, `check`) is dated by when it was asked, its ``logged_at``:
# `check --at` and a scrub judge another instant and place no call.
DIALLING_FRONTS = frozenset({"fastagi", "sip", "http"})

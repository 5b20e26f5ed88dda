"""What every front answers on a recorded opt-out: whose do-not-call lists the number is on.

One sentence for FastAGI's ``CALLGUARD_REASON`` and HTTP's ``reason``, so the agent reads
the same words whatever front the desktop or dialplan used. ``lists`` is what
``Gate.opt_out_lists`` gives: the seller's, then the call centre's (campaign key
``telemarketer``) when the campaign names one; only the last four digits are said.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["opt_out_reason"]


def opt_out_reason(e164: str, lists: Sequence[str]) -> str:
    """The reply to an opt-out written to ``lists`` (the seller's first)."""
    if len(lists) > 1:  # the call centre's list too: the agent may be asked whose
        return (f"…{e164[-4:]} added to the do-not-call lists of the seller ({lists[0]}) "
                f"and of the telemarketer making the call ({lists[1]}) (47 CFR 64.1200(d)(3))")
    return f"…{e164[-4:]} added to the seller's do-not-call list (47 CFR 64.1200(d)(3))"

"""A restarted tracker driven through a CoreShowChannels picture, every effect answered at
once: the set-up the restart-picture tests (hrev81, hwd22, hwd35, ...) each copied.

Pure tracker, synthetic clock: each effect answered 0.01 s after the last, each event and
``due`` tick ``step`` s apart. Reads are answered by ``answer(channel, variable)`` (None: a
Getvar timeout or error, ami.py ``_getvar``; "" an unset variable); the number's digest
search by ``digest`` (None: no record). What was hung up and what was written are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
)
from tests.test_watchdog import written

Answer = Callable[[str, str], "str | None"]


def from_table(reads: dict[tuple[str, str], Any], default: str | None = "") -> Answer:
    """Answer a read from ``reads`` keyed by (channel, variable), ``default`` otherwise."""
    return lambda channel, variable: reads.get((channel, variable), default)


class PictureRun:
    """The tracker after an AMI drop at ``down``, the clock at ``now``; ``settle`` answers."""

    def __init__(self, answer: Answer, *, digest: str | None = None,
                 settings: TrackerSettings | None = None, now: float = 80.0,
                 down: float = 50.0, **tracker: Any) -> None:
        self.answer, self.digest = answer, digest
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.tracker = CallTracker(settings or TrackerSettings(),
                                   report=written(self.reports), **tracker)
        self.hung: set[str] = set()
        self.now = now
        self.tracker.disconnected(down)

    def settle(self, effects: list[Any]) -> None:
        """Run ``effects`` and every effect they lead to, 0.01 s apart."""
        while effects:
            done, effects = effects, []
            for effect in done:
                self.now += 0.01
                if isinstance(effect, HangupChannel):
                    self.hung.add(effect.channel)
                elif isinstance(effect, ReadVariable):
                    effects += self.tracker.variable_read(
                        effect.linkedid, effect.channel, effect.variable,
                        self.answer(effect.channel, effect.variable), self.now)
                elif isinstance(effect, FindNumber):
                    effects += self.tracker.number_found(effect.linkedid, effect.decision_id,
                                                         self.digest, self.now)

    def picture(self, items: Iterable[dict[str, str]]) -> None:
        """The reconnect's CoreShowChannels items, at the present time."""
        self.settle(self.tracker.reconcile(list(items), self.now))

    def feed(self, events: Iterable[dict[str, str]], step: float = 0.1) -> None:
        """Each event ``step`` s after the last."""
        for event in events:
            self.now += step
            self.settle(self.tracker.feed(event, self.now))

    def tick(self, times: int, step: float = 0.1) -> None:
        """``times`` calls of ``due``, ``step`` s apart."""
        for _ in range(times):
            self.now += step
            self.settle(self.tracker.due(self.now))

    def records(self, kind: str) -> list[dict[str, Any]]:
        """The fields of every report named ``kind`` written so far."""
        return [fields for name, fields in self.reports if name == kind]

"""quick_init: the cheaper __init__ of the values every decision builds keeps them what
@dataclass made them (same parameters, frozen, equal, hashable, replaceable)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from callguard.decision import Decision
from callguard.frozen import quick_init
from callguard.numbers import NumberInfo
from callguard.policy import CallAttempt, Facts, Verdict
from callguard.policy.engine import Plan
from callguard.policy.rules import Context, LocalTime

HOT = (Decision, Verdict, Plan, CallAttempt, Context, Facts, NumberInfo, LocalTime)


@dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict)
    d: tuple[int, ...] = field(default=(), kw_only=True)


@quick_init
@dataclass(frozen=True, slots=True)
class _Quick:
    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict)
    d: tuple[int, ...] = field(default=(), kw_only=True)


def test_the_decision_values_use_it():
    """The hot values carry the replaced __init__ (this test fails if one loses it)."""
    for cls in HOT:
        assert "_set_" in " ".join(cls.__init__.__code__.co_names), cls.__name__


def test_same_parameters_as_the_dataclass_init():
    plain = inspect.signature(_Plain.__init__).parameters
    quick = inspect.signature(_Quick.__init__).parameters
    assert [(p.name, p.kind) for p in plain.values()] == [
        (p.name, p.kind) for p in quick.values()]


@pytest.mark.parametrize(("args", "kwargs"), [
    ((1,), {}), ((1, "x"), {}), ((1,), {"c": {"k": 1}}), ((1, "x", {"k": 2}), {"d": (3,)}),
    ((), {"a": 5, "d": (1, 2)})])
def test_same_values_as_the_dataclass_init(args, kwargs):
    plain, quick = _Plain(*args, **kwargs), _Quick(*args, **kwargs)
    assert dataclasses.astuple(plain) == dataclasses.astuple(quick)  # type: ignore[arg-type]


def test_still_frozen_equal_hashable_and_replaceable():
    one, two = _Quick(1, d=(2,)), _Quick(1, d=(2,))
    assert one == two
    assert one is not two
    assert one.c is not two.c  # each gets its own default_factory value
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2  # type: ignore[misc]
    assert dataclasses.replace(one, b="z") == _Quick(1, "z", d=(2,))
    assert hash(NumberInfo("+18015550123", "US", 8015550123, (), True, True)) == hash(
        NumberInfo("+18015550123", "US", 8015550123, (), True, True))


def test_wrong_arguments_fail_as_before():
    with pytest.raises(TypeError):
        _Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick(1, "b", {}, (1,))  # type: ignore[misc]


def test_refuses_what_it_cannot_reproduce():
    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True)
        class _NoSlots:
            a: int

    with pytest.raises(TypeError):
        @quick_init
        @dataclass(frozen=True, slots=True)
        class _PostInit:
            a: int

            def __post_init__(self) -> None:
                pass


def test_a_facts_value_built_either_way_is_equal():
    assert Facts() == Facts(lists={}, consents=(), ebr=None, company_dnc=None,
                            fetched=frozenset(), values={})
    assert Facts().values is not Facts().values

"""Frozen values built at half the cost, for the few that every decision makes anew.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__`` (a generic attribute lookup per field): a 12-field value costs ~1 µs,
and a FastAGI decision builds about seventy such fields (the attempt, its plan, the facts,
the verdict, the decision). ``quick_init`` replaces that ``__init__`` with one that stores
each field through its slot's own descriptor — the same values in the same slots, about
half the cost. The class stays what ``@dataclass`` made it (frozen: assignment still
raises; equality, hash, repr, ``replace``); the new ``__init__`` takes exactly the
parameters of the one it replaces, which is checked when the class is defined.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

__all__ = ["quick_init"]

T = TypeVar("T")


class _Factory:
    """The default of a parameter whose field has a ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` a cheaper ``__init__`` (same parameters).

    Refuses (TypeError) anything it cannot reproduce exactly: a class that is not a
    frozen dataclass with slots, a ``__post_init__``, a field left out of ``__init__``.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init takes a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init cannot run __post_init__")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if not field.init:
            raise TypeError(f"{cls.__name__}.{name}: quick_init needs every field in __init__")
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__  # the slot's descriptor
        value = name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            param = f"{name}=_default_{name}"
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            param = f"{name}=_FACTORY"
            value = f"_factory_{name}() if {name} is _FACTORY else {name}"
        else:
            param = name
        (keyword if field.kw_only else positional).append(param)
        body.append(f"    _set_{name}(self, {value})")
    signature = ["self", *positional, *(["*", *keyword] if keyword else [])]
    source = f"def __init__({', '.join(signature)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, namespace)  # noqa: S102 - our own text, built from the field names
    init = namespace["__init__"]
    _check_same_parameters(cls, cls.__init__, init)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _check_same_parameters(cls: type, old: Any, new: Any) -> None:
    """The replacement takes the same parameters, in the same order, with the same kinds
    and defaults (a factory's default is its marker in both)."""
    def shape(function: Any) -> list[tuple[str, Any, bool, object]]:
        out = []
        for p in inspect.signature(function).parameters.values():
            default = p.default
            factory = default is _FACTORY or repr(default) == "<factory>"
            out.append((p.name, p.kind, factory, None if factory else default))
        return out

    if shape(old) != shape(new):
        raise TypeError(f"{cls.__name__}: quick_init's __init__ would take other parameters")

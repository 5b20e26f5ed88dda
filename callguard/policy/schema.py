"""The closed schema of pack files: every table lists its keys, their types and ranges.

A pack is law written as data, so a typo must not load: an unknown key, a value of the
wrong type, a list holding the wrong element type or a number out of range is refused
with a message that names the file, the table (the rule id), the key and the keys that
are allowed there (after OpenFisca's ``_validate_parameter``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from callguard.errors import ConfigError

__all__ = ["Key", "check_table", "describe"]

# What a key may hold; ``list`` kinds check every element.
_KINDS = ("str", "int", "number", "bool", "date", "datetime", "str-list", "int-list",
          "table", "table-list")


@dataclass(frozen=True, slots=True)
class Key:
    """One allowed key: its kind, whether it is required, its choices or range."""

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown key kind {self.kind!r}")

    def expected(self) -> str:
        """What the key must hold, in words (for error messages)."""
        noun = {"str": "a string", "int": "an integer", "number": "a number",
                "bool": "true or false", "date": "a date (YYYY-MM-DD, unquoted)",
                "datetime": "a date-time with its UTC offset (2026-07-22T11:00:00-06:00, "
                            "unquoted)",
                "str-list": "a list of strings", "int-list": "a list of integers",
                "table": "a table", "table-list": "a list of tables"}[self.kind]
        if self.choices:
            noun += f" ({' or '.join(repr(c) for c in self.choices)})"
        if self.low is not None or self.high is not None:
            noun += f" from {_num(self.low)} to {_num(self.high)}"
        return noun


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{value:g}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_ok(kind: str, value: object) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return _is_int(value)
    if kind == "number":
        return _is_int(value) or isinstance(value, float)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":  # a TOML local date; a datetime is not a date here
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind == "datetime":
        return isinstance(value, datetime) and value.utcoffset() is not None
    if kind == "table":
        return isinstance(value, Mapping)
    return False


def _element_kind(kind: str) -> str:
    return {"str-list": "str", "int-list": "int", "table-list": "table"}[kind]


def _check_value(where: str, name: str, key: Key, value: object) -> None:
    if key.kind.endswith("-list"):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {name!r} must be {key.expected()}, "
                              f"not {_type(value)} {value!r}")
        for index, element in enumerate(value):
            _check_scalar(where, f"{name}[{index}]", key, _element_kind(key.kind), element)
        return
    _check_scalar(where, name, key, key.kind, value)


def _check_scalar(where: str, name: str, key: Key, kind: str, value: object) -> None:
    if not _scalar_ok(kind, value):
        raise ConfigError(f"{where}: {name!r} must be {key.expected()}, "
                          f"not {_type(value)} {value!r}")
    if key.choices and value not in key.choices:
        raise ConfigError(f"{where}: {name!r} is {value!r}; allowed: "
                          f"{', '.join(repr(c) for c in key.choices)}")
    if (key.low is not None or key.high is not None) and isinstance(value, int | float):
        low = key.low if key.low is not None else float("-inf")
        high = key.high if key.high is not None else float("inf")
        if not low <= value <= high:
            raise ConfigError(f"{where}: {name!r} is {value!r}; it must be from "
                              f"{_num(key.low)} to {_num(key.high)}")


def _type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime):
        return "date-time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return {str: "string", int: "integer", float: "float", list: "list",
            dict: "table"}.get(type(value), type(value).__name__)


def check_table(where: str, raw: object, schema: Mapping[str, Key], *,
                what: str = "this table") -> Mapping[str, Any]:
    """Check ``raw`` against ``schema``; return it as a mapping, or raise ConfigError.

    Unknown keys are refused with the allowed keys named; required keys must be there;
    every value must have its key's kind, choices and range.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: {what} must be a table, not {_type(raw)} {raw!r}")
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{where}: unknown key{plural} {', '.join(repr(k) for k in unknown)}"
                          f" in {what}; allowed keys: {', '.join(sorted(schema))}")
    for name, key in schema.items():
        if name not in raw:
            if key.required:
                raise ConfigError(f"{where}: missing required key {name!r} in {what} "
                                  f"({key.expected()})")
            continue
        _check_value(where, name, key, raw[name])
    return raw


def describe(schema: Mapping[str, Key]) -> list[tuple[str, str, bool, str]]:
    """(key, what it holds, required, doc) for every key, sorted: for ``packs show``."""
    return [(name, key.expected(), key.required, key.doc)
            for name, key in sorted(schema.items())]

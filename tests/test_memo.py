"""The bounded memo every hot-path cache stores through."""

from __future__ import annotations

from callguard.memo import remember


def test_values_are_kept_and_returned() -> None:
    cache: dict[int, str] = {}
    assert remember(cache, 1, "one", 3) == "one"
    assert cache == {1: "one"}


def test_a_full_cache_is_emptied_before_the_next_value() -> None:
    cache: dict[int, int] = {}
    for key in range(3):
        remember(cache, key, key, 3)
    assert len(cache) == 3
    remember(cache, 99, 99, 3)
    assert cache == {99: 99}  # never more than the limit, whatever the keys

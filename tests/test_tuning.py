"""The malloc workaround is small and does what it says."""

from __future__ import annotations

from callguard.tuning import raise_mmap_threshold


def test_threshold_is_set_on_glibc():
    """mallopt accepts the threshold on this glibc machine."""
    assert raise_mmap_threshold() is True


def test_can_be_turned_off(monkeypatch):
    """CALLGUARD_MALLOC_TUNING=off leaves glibc alone (the benchmark measures both)."""
    monkeypatch.setenv("CALLGUARD_MALLOC_TUNING", "off")
    assert raise_mmap_threshold() is False

"""Abandonment tallies in a SQLite file in the data dir: this node's, across restarts."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from callguard.errors import StoreError
from callguard.stores.embedded.opening import open_wal

__all__ = ["EmbeddedTallies"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS abandonment (
    campaign TEXT NOT NULL, day TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0, abandoned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, day));
"""
_KEEP_DAYS = 400  # older days are deleted as new ones are written


class EmbeddedTallies:
    """One row per campaign and day; a write is one UPSERT."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._db = open_wal(path, _SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"abandonment tallies {path}: {exc}") from None

    async def add(self, campaign: str, day: date, *, abandoned: bool) -> None:
        """Count one answered call."""
        try:
            self._db.execute(
                "INSERT INTO abandonment (campaign, day, answered, abandoned) "
                "VALUES (?, ?, 1, ?) ON CONFLICT (campaign, day) DO UPDATE SET "
                "answered = answered + 1, abandoned = abandoned + excluded.abandoned",
                (campaign, day.isoformat(), int(abandoned)))
            self._db.execute("DELETE FROM abandonment WHERE day < date(?, ?)",
                             (day.isoformat(), f"-{_KEEP_DAYS} days"))
        except sqlite3.Error as exc:
            raise StoreError(f"abandonment tallies {self._path}: {exc}") from None

    async def window(self, campaign: str, first: date, last: date) -> tuple[int, int]:
        """(answered, abandoned) over the days from ``first`` to ``last``."""
        try:
            row = self._db.execute(
                "SELECT COALESCE(SUM(answered), 0), COALESCE(SUM(abandoned), 0) "
                "FROM abandonment WHERE campaign = ? AND day BETWEEN ? AND ?",
                (campaign, first.isoformat(), last.isoformat())).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"abandonment tallies {self._path}: {exc}") from None
        return int(row[0]), int(row[1])

    async def aclose(self) -> None:
        """Close the file."""
        self._db.close()

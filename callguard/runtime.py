"""Assemble a node from its settings: stores, compliance log, gate. Also closes them."""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from redis import asyncio as aioredis

from callguard.audit import ComplianceLog, NumberProtector, configure_logging, load_log_key
from callguard.config import Settings
from callguard.gate import Gate
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.redis.lists import RedisListRegistry

__all__ = ["Runtime", "open_runtime", "redis_client"]


def redis_client(settings: Settings) -> aioredis.Redis:
    """A client for the configured Redis; password from ``CALLGUARD_REDIS_PASSWORD``."""
    return aioredis.from_url(settings.redis_url,
                             password=os.environ.get("CALLGUARD_REDIS_PASSWORD") or None,
                             socket_connect_timeout=2, health_check_interval=10)


@dataclass
class Runtime:
    """One node's live parts."""

    settings: Settings
    lists: EmbeddedListRegistry | RedisListRegistry
    records: EmbeddedRecords
    gate: Gate
    protector: NumberProtector
    _closers: ExitStack = field(default_factory=ExitStack)

    async def start(self) -> None:
        """Load the lists (Redis: first sync, then follow publications)."""
        if isinstance(self.lists, RedisListRegistry):
            await self.lists.start()

    async def aclose(self) -> None:
        """Stop following Redis, then close everything else."""
        if isinstance(self.lists, RedisListRegistry):
            await self.lists.close()
        self.close()

    def close(self) -> None:
        """Close the stores and the log file."""
        self.records.close()
        self._closers.close()


def _log_sink(settings: Settings, stack: ExitStack) -> BinaryIO | None:
    target = settings.compliance_log
    if target == "-":
        return None
    path = Path(target) if target else settings.data_dir / "compliance.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unbuffered: each record reaches the file in one write(2), none waits in memory.
    return stack.enter_context(path.open("ab", buffering=0))


def open_runtime(settings: Settings) -> Runtime:
    """Open the embedded stores under the data dir and wire the gate."""
    stack = ExitStack()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    key = load_log_key(data_dir)
    configure_logging(key)
    compliance = ComplianceLog(_log_sink(settings, stack))
    lists: EmbeddedListRegistry | RedisListRegistry
    if settings.lists_backend == "redis":
        lists = RedisListRegistry(redis_client(settings))
    else:
        lists = EmbeddedListRegistry(data_dir)
    records = EmbeddedRecords(data_dir / "records.sqlite3")
    gate = Gate(
        policy=settings.policy(),
        campaigns=settings.campaigns,
        parser=settings.parser(),
        lists=lists,
        records=records,
        record=compliance.record,
    )
    return Runtime(settings, lists, records, gate, NumberProtector(key), stack)

"""Where this node's compliance log and archive are, read without loading the full settings.

Loading the settings validates every pack and imports the gate, the fronts and Redis
(about a second); ``callguard tail`` needs two keys of the file. This reads them the
way ``load_settings`` and ``runtime.log_path`` do (a test holds the two equal), and
nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from callguard.datadir import choose_data_dir, log_file
from callguard.errors import ConfigError
from callguard.resources import bundled_config
from callguard.tomlfile import read_config

__all__ = ["LogPlace", "e164", "locate"]


def _default_config() -> Path:
    """The bundled demo configuration (``callguard.config.DEFAULT_CONFIG``)."""
    return bundled_config()


@dataclass(frozen=True, slots=True)
class LogPlace:
    """The files of one node's compliance evidence."""

    config: Path
    data_dir: Path
    log_file: Path | None  # None: the node logs to stdout
    dial_prefixes: tuple[str, ...] = ()
    regions: frozenset[str] = frozenset({"US"})
    redis_stream: bool = False  # [log] redis_stream: every node's records in the stream

    @property
    def archive_dir(self) -> Path:
        """Where ``callguard archive`` keeps the Parquet archive."""
        return self.data_dir / "archive"


def locate(config: Path | None, data_dir: Path | None) -> LogPlace:
    """The data dir and log file for ``--config``/``--data-dir`` (or their variables)."""
    if config is None:
        env = os.environ.get("CALLGUARD_CONFIG")
        config = Path(env) if env else _default_config()
    doc = read_config(config)
    main = doc.get("callguard", {})
    log = doc.get("log", {})
    configured = main.get("data_dir", "")
    target = log.get("file", "")
    if not isinstance(configured, str) or not isinstance(target, str):
        raise ConfigError(f"{config}: [callguard] data_dir and [log] file must be strings")
    chosen = choose_data_dir(config, configured, data_dir).path
    prefixes = main.get("dial_prefixes", [])
    regions = main.get("regions", ["US"])
    if not isinstance(prefixes, list) or not isinstance(regions, list):
        raise ConfigError(f"{config}: [callguard] dial_prefixes and regions must be lists")
    log_path = log_file(config, chosen, target)
    stream = log.get("redis_stream", False)
    if not isinstance(stream, bool):
        raise ConfigError(f"{config}: [log] redis_stream must be true or false")
    return LogPlace(config, chosen, log_path, tuple(map(str, prefixes)),
                    frozenset(map(str, regions)), stream)


def e164(place: LogPlace, number: str) -> str:
    """The number in E.164 as the node's parser makes it; ``NumberError`` when it is not
    dialable (imported here: phonenumbers is not needed to read the log)."""
    from callguard.numbers import NumberParser  # noqa: PLC0415

    parser = NumberParser(dial_prefixes=place.dial_prefixes, regions=place.regions)
    return parser.parse(number).e164

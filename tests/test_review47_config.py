"""A float setting given as a TOML integer too large for a float (hrev47).

``_section`` turns TOML's ``2`` into ``2.0`` for a float key (``[http] max_at_skew``,
every other seconds setting): a 400-digit integer made ``float()`` raise OverflowError,
a traceback at start where every other wrong value is a ConfigError naming its key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from tests.conftest import ROOT


def _config(tmp_path: Path, line: str) -> Path:
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace("max_at_skew = 0\n", line + "\n")
    path = tmp_path / "c.toml"
    path.write_text(text.replace('packs_dir = "jurisdictions"',
                                 f'packs_dir = "{ROOT / "callguard" / "data" / "jurisdictions"}"'))
    return path


@pytest.mark.parametrize("value", ["1" + "0" * 400, "-1" + "0" * 400], ids=["big", "-big"])
def test_an_integer_past_a_float_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, f"max_at_skew = {value}"))
    assert "max_at_skew" in str(caught.value), caught.value


def test_a_large_integer_that_fits_still_loads(tmp_path: Path) -> None:
    """Within a float it is taken (a skew of a century is the operator's choice)."""
    settings = load_settings(_config(tmp_path, "max_at_skew = 3155760000"))
    assert settings.http.max_at_skew == 3155760000.0

"""hagi23: ``[fastagi] ask_liveness`` needs func_channel in Asterisk, and callguard says so.

With ``ask_liveness = true`` every check asks ``GET VARIABLE CHANNEL(checkhangup)``; res_agi.c
``handle_getvariable`` reads a name ending in ")" with ``ast_func_read``, so without
func_channel loaded the read fails, the reply is ``200 result=0`` and every call is BLOCKed
(``liveness_unknown``) — and nothing said so before the first call. Now ``config check``
lists it among its warnings (exit status unchanged) and serve logs it at start
(``fastagi_liveness_needs_func_channel``), naming how to check: the AMI's ``ModuleCheck`` when
``[ami]`` is enabled, the Asterisk console otherwise. callguard does not ask the AMI itself
(the watchdog owns that connection; another helper's area this session).
"""

from __future__ import annotations

from dataclasses import replace

from callguard.fronts.fastagi.server import FastAgiSettings, liveness_warning
from tests.test_config_check import cli, import_lists, site

__all__ = ["site"]  # the fixture, from test_config_check


def test_off_says_nothing():
    assert liveness_warning(FastAgiSettings(), ami=True) is None


def test_on_names_the_module_the_effect_and_how_to_check():
    on = replace(FastAgiSettings(), ask_liveness=True)
    console = liveness_warning(on, ami=False)
    assert console is not None
    assert "func_channel" in console
    assert "EVERY check is BLOCKed" in console
    assert "module show like func_channel" in console
    ami = liveness_warning(on, ami=True)
    assert ami is not None
    assert "ModuleCheck" in ami
    assert "Module: func_channel" in ami


def _with_liveness(config, on: bool) -> None:
    text = config.read_text()
    assert "[fastagi]\n" in text
    config.write_text(text.replace("[fastagi]\n", f"[fastagi]\nask_liveness = {str(on).lower()}\n",
                                   1))


def test_config_check_warns_when_ask_liveness_is_on(site):
    """Fails on main: no such warning (the first call's BLOCK was the first word)."""
    import_lists(site)
    _with_liveness(site, True)
    result = cli("--config", str(site), "config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ask_liveness = true" in result.stderr
    assert "func_channel" in result.stderr


def test_config_check_is_silent_about_it_when_off(site):
    import_lists(site)
    _with_liveness(site, False)
    result = cli("--config", str(site), "config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "func_channel" not in result.stderr


def test_serve_logs_it_at_start(tmp_path):
    """serve's start warnings (``_start_warnings`` runs ``_warn_liveness``): one line,
    ``fastagi_liveness_needs_func_channel``, only with ask_liveness on."""
    import structlog

    from callguard.cli.serve import _warn_liveness
    from callguard.config import load_settings

    settings = load_settings(data_dir=tmp_path)

    class Runtime:  # the one attribute _warn_liveness reads
        def __init__(self, on: bool) -> None:
            self.settings = replace(settings, fastagi=replace(settings.fastagi,
                                                              ask_liveness=on))

    with structlog.testing.capture_logs() as logged:
        _warn_liveness(Runtime(False))
        _warn_liveness(Runtime(True))
    assert [e["event"] for e in logged] == ["fastagi_liveness_needs_func_channel"]
    assert "func_channel" in logged[0]["detail"]

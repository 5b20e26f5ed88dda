"""The light readers used by `tail` and `evidence` agree with the full ones they stand in
for: where the log is (vs ``load_settings`` + ``runtime.log_path``), how a number is
hashed and the key named (vs the writer's ``NumberProtector``), how a number is written
(vs the configured parser).
"""

from __future__ import annotations

import pytest

from callguard.cli.locate import e164, locate
from callguard.compliance.logkey import LogKeyError, load_log_key, read_log_key
from callguard.config import load_settings
from callguard.runtime import log_path
from tests.log_files import config


@pytest.mark.parametrize("extra", [
    "", '\n[log]\nfile = "-"\n', '\n[log]\nfile = "/var/log/cg/compliance.jsonl"\n',
    '\n[log]\nfile = "relative/compliance.jsonl"\n'])
@pytest.mark.parametrize("override", [False, True])
def test_locate_agrees_with_the_settings(tmp_path, monkeypatch, extra, override):
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = config(tmp_path, tmp_path / "data")
    text = path.read_text()
    if extra:  # replace the [log] file line rather than adding a second [log]
        text = text.replace('file = ""', extra.split("\n")[2], 1)
    path.write_text(text)
    given = tmp_path / "other" if override else None
    settings = load_settings(path, data_dir=given)
    place = locate(path, given)
    assert place.data_dir == settings.data_dir
    assert place.log_file == log_path(settings)
    assert place.dial_prefixes == settings.dial_prefixes
    assert place.regions == settings.regions


@pytest.mark.parametrize("stream", [False, True])
def test_redis_stream_read_as_the_settings_read_it(tmp_path, monkeypatch, stream):
    """`evidence` reads the stream's unarchived entries when this says so."""
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = config(tmp_path, tmp_path / "data")
    text = path.read_text()
    assert "redis_stream = false" in text
    path.write_text(text.replace("redis_stream = false", f"redis_stream = {str(stream).lower()}"))
    assert locate(path, None).redis_stream is load_settings(path).log.redis_stream is stream


def test_environment_data_dir_wins_as_in_the_settings(tmp_path, monkeypatch):
    path = config(tmp_path, tmp_path / "data")
    monkeypatch.setenv("CALLGUARD_DATA_DIR", str(tmp_path / "env"))
    assert locate(path, None).data_dir == load_settings(path).data_dir


@pytest.mark.parametrize("number", ["8015550123", "+1 (435) 555-0142", "1-801-555-0199"])
def test_number_written_as_the_configured_parser_writes_it(tmp_path, number):
    path = config(tmp_path, tmp_path / "data")
    assert e164(locate(path, None), number) == load_settings(path).parser().parse(number).e164


@pytest.mark.parametrize("key", ["ab" * 32, "00" * 16, "0123456789abcdef" * 4])
def test_keyed_hash_is_the_writers(key, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLGUARD_LOG_KEY", key)
    raw, source = read_log_key(tmp_path)
    assert source == "CALLGUARD_LOG_KEY"
    assert raw == load_log_key(tmp_path) == bytes.fromhex(key)  # the writer's own loader


def test_key_file_read_and_never_made(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_LOG_KEY", raising=False)
    with pytest.raises(LogKeyError, match="CALLGUARD_LOG_KEY"):
        read_log_key(tmp_path)
    assert not (tmp_path / "log.key").exists()
    (tmp_path / "log.key").write_text("cd" * 32 + "\n")
    raw, source = read_log_key(tmp_path)
    assert raw == bytes.fromhex("cd" * 32)
    assert source.endswith("log.key")


def test_a_key_the_writer_would_refuse_is_refused_for_a_lookup(tmp_path, monkeypatch):
    """One loader: a lookup does not read a key file differently from the writer."""
    monkeypatch.delenv("CALLGUARD_LOG_KEY", raising=False)
    (tmp_path / "log.key").write_text("not a hexadecimal key\n")
    with pytest.raises(LogKeyError, match="hexadecimal"):
        read_log_key(tmp_path)
    with pytest.raises(LogKeyError, match="hexadecimal"):
        load_log_key(tmp_path, create=False)

"""A Redis that wants a password the CLI was not given: the lists' commands said "Redis is
unreachable ... Check [redis] url", sending the admin after the wrong setting (redis-py's
AuthenticationError is a ConnectionError). They now name CALLGUARD_REDIS_PASSWORD."""

from __future__ import annotations

import os
import subprocess
import sys

import redis

from tests.conftest import ROOT
from tests.serve_node import ServeNode


def test_lists_command_without_the_password_names_it(tmp_path, redis_server) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    admin.config_set("requirepass", "pw-0123456789abcdef")
    admin.close()
    env = {k: v for k, v in os.environ.items() if k != "CALLGUARD_REDIS_PASSWORD"}
    for name, password in (("none", None), ("wrong", "pw-wrong-fedcba987")):
        node = ServeNode(tmp_path / name, redis_url=redis_server.url, redis_lists=True)
        node_env = dict(env, CALLGUARD_DATA_DIR=str(node.data))
        if password:
            node_env["CALLGUARD_REDIS_PASSWORD"] = password
        result = subprocess.run([sys.executable, "-m", "callguard", "--config",
                                 str(node.config), "dnc", "status"], env=node_env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 3, result.stderr
        assert "CALLGUARD_REDIS_PASSWORD" in result.stderr, result.stderr
        assert "Check [redis] url" not in result.stderr
        assert "internal error" not in result.stderr
        assert "pw-" not in result.stderr


def test_record_commands_without_the_password_name_it(tmp_path, redis_server) -> None:
    """`consent show` and `records-accept-older` read the Redis record store: a refused
    password printed a bare "Authentication required." with no hint (hux18)."""
    admin = redis.Redis.from_url(redis_server.url)
    admin.config_set("requirepass", "pw-0123456789abcdef")
    admin.close()
    env = {k: v for k, v in os.environ.items() if k != "CALLGUARD_REDIS_PASSWORD"}
    node = ServeNode(tmp_path / "records", redis_url=redis_server.url, redis_records=True)
    node_env = dict(env, CALLGUARD_DATA_DIR=str(node.data))
    for args in (["consent", "show", "8015550123", "--campaign", "ut-solar-manual"],
                 ["records-accept-older", "--reason", "restored from the nightly backup"]):
        result = subprocess.run([sys.executable, "-m", "callguard", "--config",
                                 str(node.config), *args], env=node_env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 3, (args, result.stderr)
        assert "CALLGUARD_REDIS_PASSWORD" in result.stderr, (args, result.stderr)
        assert "internal error" not in result.stderr
        assert "pw-" not in result.stderr

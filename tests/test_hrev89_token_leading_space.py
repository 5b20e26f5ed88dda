"""An HTTP token that starts with a space is sent as it is and must keep working
(reviewer hrev89).

d2464f2 refused at load every token with surrounding whitespace, saying no client could
send it. HTTP drops a header value's trailing whitespace only: ``Authorization: Bearer
 TOKEN`` (two spaces) carries a token's leading space, which the node's ``_auth`` keeps (all
after the scheme's one space). A node whose clients sent such a token was served before;
after the upgrade it refused to start, every front down. Trailing whitespace, and a line
break anywhere at its ends, stays refused. Real server, real requests."""

from __future__ import annotations

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from tests.serve_node import TOKEN, ServeNode, write_lists


def test_a_token_with_a_leading_space_is_served(tmp_path) -> None:
    spaced = " " + TOKEN
    node = ServeNode(tmp_path, env_extra={"CALLGUARD_HTTP_TOKEN": spaced})
    write_lists(node.data, [])
    node.start()  # before: ConfigError at load, serve exited
    try:
        assert node.http("/metrics", token=spaced)[0] == 200  # "Bearer  test-token-..."
        assert node.http("/metrics", token=TOKEN)[0] == 401  # not the same token
    finally:
        node.stop()


@pytest.mark.parametrize("token", [TOKEN + " ", TOKEN + "\t", TOKEN + "\n", "\n" + TOKEN,
                                   "\r\n" + TOKEN])
def test_a_token_no_client_can_send_is_refused(tmp_path, monkeypatch, token) -> None:
    settings = load_settings(data_dir=tmp_path)
    monkeypatch.setenv("CALLGUARD_HTTP_TOKEN", token)
    with pytest.raises(ConfigError, match="whitespace"):
        settings.http_token()


def test_a_leading_space_or_tab_is_kept_in_the_token(tmp_path, monkeypatch) -> None:
    settings = load_settings(data_dir=tmp_path)
    for token in (" " + TOKEN, "\t" + TOKEN):
        monkeypatch.setenv("CALLGUARD_HTTP_TOKEN", token)
        assert settings.http_token() == token.encode()

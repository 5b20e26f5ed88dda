"""secrets.env read as systemd's ``EnvironmentFile=`` reads it, for ``callguard-admin``.

The unit's service gets its secrets from systemd, which never expands ``$``, runs nothing
and keeps a value's inner spaces; ``callguard-admin`` used to source the same file with the
shell's ``.``, as root: a secret holding ``$x`` became something else (or stopped the
command under ``set -u``), ``$(...)`` or a backquote ran as root, and ``a b`` ran ``b``. So
the admin helper reads it here, with systemd's rules, and then runs its command:

    python -P -m callguard.envfile FILE -- COMMAND [ARG...]

The rules are systemd's ``parse_env_file_internal`` (src/basic/env-file.c) as documented
in systemd.exec(5), ``EnvironmentFile=``: lines starting with ``#`` or ``;`` are comments;
``KEY=value`` with the whitespace around the key and the value dropped, interior
whitespace kept and a ``# ...`` after an unquoted value part of it; a backslash keeps the
next character (a backslash-newline joins lines); ``'...'`` verbatim; ``"..."`` with
backslash escaping only ``"`` ``\\`` `````` ``$``; no expansion of any kind. A name systemd
would not accept (``execute.c`` drops it with a warning) is refused here, loudly.
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["main", "parse"]

_WHITESPACE = " \t\n\r"
_NEWLINE = "\n\r"
_COMMENTS = "#;"
_SHELL_NEED_ESCAPE = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class EnvFileError(ValueError):
    """A line systemd would drop: the admin must fix it, not have it silently ignored."""


def parse(text: str) -> dict[str, str]:
    """The variables ``text`` assigns, the last assignment of a name winning."""
    parser = _Parser()
    for char in text:
        parser.feed(char)
    parser.finish()
    return parser.values


class _Parser:
    """A character-at-a-time state machine with systemd's states and transitions."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.state = "pre_key"
        self.key: list[str] = []
        self.value: list[str] = []
        self.key_trail: int | None = None
        self.value_trail: int | None = None
        self.line = 1

    def feed(self, c: str) -> None:
        getattr(self, "_" + self.state)(c)

    def _push(self) -> None:
        key = "".join(self.key[: self.key_trail] if self.key_trail is not None else self.key)
        value = "".join(self.value)
        if not _NAME.match(key):
            raise EnvFileError(f"line {self.line}: {key!r} is not a variable name (systemd "
                               "ignores the line; write NAME=value)")
        self.values[key] = value
        self.key, self.value = [], []
        self.key_trail = self.value_trail = None

    def _newline(self) -> None:
        self._push()
        self.state = "pre_key"
        self.line += 1

    def _pre_key(self, c: str) -> None:
        if c in _COMMENTS:
            self.state = "comment"
        elif c not in _WHITESPACE:
            self.state, self.key, self.key_trail = "key", [c], None
        elif c == "\n":
            self.line += 1

    def _key(self, c: str) -> None:
        if c in _NEWLINE:  # a line without "=": systemd ignores it
            self.state, self.key = "pre_key", []
            self.line += 1
        elif c == "=":
            self.state, self.value, self.value_trail = "pre_value", [], None
        else:
            if c not in _WHITESPACE:
                self.key_trail = None
            elif self.key_trail is None:
                self.key_trail = len(self.key)
            self.key.append(c)

    def _pre_value(self, c: str) -> None:
        if c in _NEWLINE:
            self._newline()
        elif c == "'":
            self.state = "single"
        elif c == '"':
            self.state = "double"
        elif c == "\\":
            self.state = "value_escape"
        elif c not in _WHITESPACE:
            self.state = "value"
            self.value.append(c)

    def _value(self, c: str) -> None:
        if c in _NEWLINE:
            if self.value_trail is not None:
                del self.value[self.value_trail:]
            self._newline()
        elif c == "\\":
            self.state, self.value_trail = "value_escape", None
        else:
            if c not in _WHITESPACE:
                self.value_trail = None
            elif self.value_trail is None:
                self.value_trail = len(self.value)
            self.value.append(c)

    def _value_escape(self, c: str) -> None:
        self.state = "value"
        if c not in _NEWLINE:
            self.value.append(c)

    def _single(self, c: str) -> None:
        if c == "'":
            self.state = "pre_value"
        else:
            self.value.append(c)

    def _double(self, c: str) -> None:
        if c == '"':
            self.state = "pre_value"
        elif c == "\\":
            self.state = "double_escape"
        else:
            self.value.append(c)

    def _double_escape(self, c: str) -> None:
        self.state = "double"
        if c in _SHELL_NEED_ESCAPE:
            self.value.append(c)
        elif c != "\n":
            self.value.extend(("\\", c))

    def _comment(self, c: str) -> None:
        if c == "\\":
            self.state = "comment_escape"
        elif c in _NEWLINE:
            self.state = "pre_key"
            self.line += 1

    def _comment_escape(self, c: str) -> None:
        if c in _NEWLINE:
            self.state = "pre_key"
            self.line += 1
        else:
            self.state = "comment"

    def finish(self) -> None:
        if self.state in ("pre_value", "value", "value_escape", "single", "double",
                          "double_escape"):
            if self.state == "value" and self.value_trail is not None:
                del self.value[self.value_trail:]
            self._push()


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")


def main(argv: list[str]) -> int:
    """``FILE -- COMMAND...``: FILE's variables into the environment, then exec COMMAND
    (a missing FILE is no error, as for the unit's ``EnvironmentFile=-``)."""
    if len(argv) < 3 or argv[1] != "--":
        _say("usage: python -P -m callguard.envfile FILE -- COMMAND [ARG...]")
        return 2
    path, command = argv[0], argv[2:]
    try:
        with open(path, encoding="utf-8") as handle:
            values = parse(handle.read())
    except FileNotFoundError:
        values = {}
    except (OSError, UnicodeDecodeError, EnvFileError) as exc:
        _say(f"callguard-admin: cannot read {path}: {exc}. Fix the file (NAME=value lines, "
             "as systemd's EnvironmentFile= reads them) and run again.")
        return 2
    os.environ.update(values)
    try:
        os.execvp(command[0], command)  # noqa: S606 - the admin's own command, no shell
    except OSError as exc:
        _say(f"callguard-admin: cannot run {command[0]}: {exc}")
        return 2
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

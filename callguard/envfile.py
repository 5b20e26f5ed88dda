"""secrets.env read as systemd's ``EnvironmentFile=`` reads it, for ``callguard-admin``.

The unit's service gets its secrets from systemd, which never expands ``$``, runs nothing
and keeps a value's inner spaces; ``callguard-admin`` used to source the same file with the
shell's ``.``, as root: a secret holding ``$x`` became something else (or stopped the
command under ``set -u``), ``$(...)`` or a backquote ran as root, and ``a b`` ran ``b``. So
the admin helper reads it here, with systemd's rules, and then runs its command:

    python -P -m callguard.envfile --user USER FILE -- COMMAND [ARG...]

The rules are systemd's ``parse_env_file_internal`` (src/basic/env-file.c) as documented
in systemd.exec(5), ``EnvironmentFile=``: lines starting with ``#`` or ``;`` are comments;
``KEY=value`` with the whitespace around the key and the value dropped, interior
whitespace kept and a ``# ...`` after an unquoted value part of it; a backslash keeps the
next character (a backslash-newline joins lines); ``'...'`` verbatim; ``"..."`` with
backslash escaping only ``"`` ``\\`` `````` ``$``; no expansion of any kind. A name systemd
would not accept (``execute.c`` drops it with a warning) is refused here, loudly; so is
a NUL (``read_full_stream`` refuses such a file) and a name or value not UTF-8
(``check_utf8ness_and_warn``), and an assignment right after a comment ending in a
backslash (``COMMENT_ESCAPE``: systemd before 254 took it as comment). The file is read
as bytes: ``\\r`` ends a line as in
systemd's ``NEWLINE``, and is kept inside quotes (text mode turned ``\\r\\n`` into ``\\n``,
so a ``\\`` at the end of a CRLF line joined the next assignment to the value).

Root runs this, so the file's variables never reach a process running as root: with
``--user`` the process becomes that user (its groups, as ``setpriv --init-groups``)
before it puts them in the command's environment — a ``PATH``, ``LD_PRELOAD`` or
``PYTHONPATH`` in the file applies to the service user's command only, as it does to the
service. A file root did not write alone (owned by another user, writable by its group or
by all), or reached through a directory someone else can write (who could swap it for a
link to another file of root's), is refused before it is read. An error names the line,
never a value.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import shutil
import stat
import sys

__all__ = ["EnvFileError", "main", "parse", "read"]

_WHITESPACE = " \t\n\r"
_NEWLINE = "\n\r"
_COMMENTS = "#;"
_SHELL_NEED_ESCAPE = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes surrogateescape kept: not UTF-8


class EnvFileError(ValueError):
    """A line systemd would drop: the admin must fix it, not have it silently ignored."""


def parse(text: str) -> dict[str, str]:
    """The variables ``text`` assigns, the last assignment of a name winning."""
    parser = _Parser()
    for char in text:
        parser.feed(char)
    parser.finish()
    return parser.values


def parse_bytes(data: bytes) -> dict[str, str]:
    """``parse`` of a file's bytes, as systemd reads them (no newline translation)."""
    if b"\0" in data:
        line = data[:data.index(b"\0")].count(b"\n") + 1
        raise EnvFileError(f"line {line}: a NUL byte (systemd refuses the whole file)")
    return parse(data.decode("utf-8", "surrogateescape"))


class _Parser:
    """A character-at-a-time state machine with systemd's states and transitions."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.state = "pre_key"
        self.key: list[str] = []
        self.value: list[str] = []
        self.key_trail: int | None = None
        self.value_trail: int | None = None
        self.line = 1  # the file's line (each "\n"), for errors
        self.key_line = 1  # the line the assignment being read starts on
        # The newline a comment's backslash escaped, until the next line shows whether
        # systemd's versions read it alike ("" again).
        self.comment_joined = ""

    def feed(self, c: str) -> None:
        if self.comment_joined == "\r" and c == "\n":
            self.comment_joined = ""  # before 254 the "\r" was eaten, the "\n" ends it
        elif self.comment_joined and self.state == "pre_key" and c in _NEWLINE:
            self.comment_joined = ""  # an empty line: both versions agree
        getattr(self, "_" + self.state)(c)
        if c == "\n":
            self.line += 1

    def _push(self) -> None:
        key = "".join(self.key[: self.key_trail] if self.key_trail is not None else self.key)
        value = "".join(self.value)
        # Neither is printed: a line mistyped may hold a secret before its "=".
        if not _NAME.match(key):
            raise EnvFileError(f"line {self.key_line}: the text before \"=\" is not a "
                               "variable name (systemd ignores the line; write NAME=value)")
        if _NOT_UTF8.search(value):
            raise EnvFileError(f"line {self.key_line}: {key}'s value is not UTF-8 (systemd "
                               "refuses the whole file)")
        self.values[key] = value
        self.key, self.value = [], []
        self.key_trail = self.value_trail = None

    def _newline(self) -> None:
        self._push()
        self.state = "pre_key"

    def _pre_key(self, c: str) -> None:
        if c in _COMMENTS:
            self.state, self.comment_joined = "comment", ""
        elif c not in _WHITESPACE:
            if self.comment_joined:
                # COMMENT_ESCAPE: systemd 254 and later read this line; before 254
                # (Debian 12, RHEL 9, Ubuntu 22.04) it was the comment's: which one the
                # service got depends on the host, so neither is guessed here.
                raise EnvFileError(f"line {self.line}: the comment before it ends in a "
                                   "backslash, so systemd before 254 takes this line as "
                                   "part of the comment (254 and later do not); remove "
                                   "that backslash")
            self.state, self.key, self.key_trail = "key", [c], None
            self.key_line = self.line

    def _key(self, c: str) -> None:
        if c in _NEWLINE:  # a line without "=": systemd ignores it
            self.state, self.key = "pre_key", []
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

    def _comment_escape(self, c: str) -> None:
        self.state = "pre_key" if c in _NEWLINE else "comment"
        if c in _NEWLINE:
            self.comment_joined = c

    def finish(self) -> None:
        if self.state in ("pre_value", "value", "value_escape", "single", "double",
                          "double_escape"):
            if self.state == "value" and self.value_trail is not None:
                del self.value[self.value_trail:]
            self._push()


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")


def read(path: str) -> dict[str, str]:
    """The file's variables; {} if it does not exist (the unit's ``EnvironmentFile=-``).

    Run as root, a file anyone but root could have written is refused unread: what it
    holds decides what the CLI runs with (its configuration, its keys)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
    if os.geteuid() == 0:
        # Whoever can write a directory on the way can put there a link to any file of
        # root's (another service's secrets, /root/.my.cnf) for root to read and hand to
        # the service user's command. Every directory crossed must be root's alone; the
        # path then resolved is opened without following a link.
        real = os.path.realpath(path)
        for name in (*_ancestors(os.path.abspath(path)), *_ancestors(real)):
            _root_alone(name)
        path, flags = real, flags | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return {}
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EnvFileError("not a regular file")
        if os.geteuid() == 0 and (info.st_uid != 0 or info.st_mode & 0o022):
            raise EnvFileError(
                f"owned by uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):04o}: root "
                "reads it, so only root may write it (chown root:root, chmod 0600)")
        return parse_bytes(handle.read())


def _ancestors(path: str) -> list[str]:
    """The directories above ``path``, ``/`` last."""
    names = []
    while (parent := os.path.dirname(path)) != path:
        names.append(parent)
        path = parent
    return names


def _root_alone(directory: str) -> None:
    """Refuse a directory someone else could change an entry of (a sticky one of root's,
    as /tmp, lets no one rename root's file)."""
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        return  # nothing there to read either
    sticky = info.st_mode & stat.S_ISVTX
    if info.st_uid != 0 or (info.st_mode & 0o022 and not sticky):
        raise EnvFileError(
            f"{directory} is owned by uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):04o}: whoever can write it can swap the file "
            "root reads (chown root:root, chmod go-w)")


def _become(user: str) -> None:
    """Root to ``user``: its primary group, its groups, its uid (setpriv --reuid --regid
    --init-groups); capabilities go with the uid."""
    entry = pwd.getpwnam(user)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        # The file's PATH, LD_PRELOAD, PYTHONPATH would then apply to a root command.
        raise PermissionError(1, f"{user} is root (uid {entry.pw_uid}, gid {entry.pw_gid}):"
                              " the service's user must not be")
    os.initgroups(user, entry.pw_gid)
    groups = sorted(set(os.getgroups()))
    os.setgid(entry.pw_gid)  # as root: real, effective and saved
    os.setuid(entry.pw_uid)
    # No way back: every id is the user's, the groups exactly its own.
    if (os.getresuid() != (entry.pw_uid,) * 3 or os.getresgid() != (entry.pw_gid,) * 3
            or sorted(set(os.getgroups())) != groups or 0 in groups):
        raise PermissionError(1, f"could not become {user} entirely "
                              f"(uids {os.getresuid()}, gids {os.getresgid()})")


def _interpreter(program: str) -> str:
    """The interpreter a ``#!`` first line names ('' if none or unreadable), read as root
    before the switch: named when the service user cannot run the program."""
    try:
        with open(program, "rb") as file:
            first = file.readline(4096)
    except OSError:
        return ""
    if not first.startswith(b"#!"):
        return ""
    words = first[2:].decode("utf-8", "replace").split()
    return words[0] if words else ""


def main(argv: list[str]) -> int:
    """``[--user USER] FILE -- COMMAND...``: exec COMMAND (as USER) with FILE's variables
    added to the environment (a missing FILE is no error, as for ``EnvironmentFile=-``)."""
    user = None
    if len(argv) >= 2 and argv[0] == "--user":
        user, argv = argv[1], argv[2:]
    if len(argv) < 3 or argv[1] != "--":
        _say("usage: python -P -m callguard.envfile [--user USER] FILE -- COMMAND [ARG...]")
        return 2
    path, command = argv[0], argv[2:]
    try:
        values = read(path)
    except (OSError, EnvFileError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _say(f"callguard-admin: cannot read {path}: {detail}. Fix the file (NAME=value "
             "lines, as systemd's EnvironmentFile= reads them) and run again.")
        return 2
    # Found on the caller's PATH, before the file's variables exist anywhere.
    program = shutil.which(command[0]) if os.sep not in command[0] else command[0]
    if program is None:
        _say(f"callguard-admin: cannot run {command[0]}: not found")
        return 2
    interpreter = _interpreter(program)
    try:
        if user is not None:
            _become(user)
        # A descriptor root's caller left open (a root-only file, a socket) is not the
        # command's: the service user could reach it through /proc/PID/fd.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.execve(program, command, {**os.environ, **values})  # noqa: S606 - no shell
    except (OSError, KeyError) as exc:
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else f"no user {user}"
        if isinstance(exc, PermissionError) and exc.errno == errno.EACCES and user:
            # Root could run it; the user cannot: a venv made with a python under /root
            # (pyenv) or a 0700 home directory names no one the program.
            what = f"{program} and {interpreter}" if interpreter else program
            reason += (f" as {user}: {user} needs read and execute permission on {what} "
                       "and search permission on every directory above them (a python "
                       "under /root or a home directory of mode 0700 is not reachable): "
                       "make the venv with a system python (/usr/bin/python3 -m venv)")
        _say(f"callguard-admin: cannot run {command[0]}: {reason}")
        return 2
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

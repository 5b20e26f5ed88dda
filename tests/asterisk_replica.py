"""How Asterisk 22 parses what callguard sends — a Python port for tests, not a fake server.

Ported from res_agi.c ``parse_args`` (AGI command line -> argv) and main/app.c
``__ast_app_separate_args`` with ``remove_chars=1`` (application arguments), as used by
``pbx_builtin_setvar_multiple`` (MSet: split on ',' then each pair once on '='). The C code
was read from Asterisk's public sources; see docs in tests/test_fastagi.py.
"""

from __future__ import annotations


def agi_parse_args(line: str) -> list[str]:
    """res_agi.c parse_args: words split on space/tab; quotes group; backslash escapes."""
    args: list[list[str]] = []
    current: list[str] | None = None
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                current = []
                args.append(current)
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            current = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace or current is None:
            current = []
            args.append(current)
            whitespace = False
        current.append(ch)
        escaped = False
    return ["".join(a) for a in args]


def separate_args(text: str, delim: str, arraylen: int) -> list[str]:
    """main/app.c __ast_app_separate_args with remove_chars=1."""
    buf = list(text)
    starts: list[int] = []
    paren = bracket = 0
    quote = False
    wasdelim: int | None = None
    i = 0
    argc = 0
    while i < len(buf) and argc < arraylen - 1:
        starts.append(i)
        while i < len(buf):
            ch = buf[i]
            if ch == "(":
                paren += 1
            elif ch == ")":
                paren = paren - 1 if paren else 0
            elif ch == "[":
                bracket += 1
            elif ch == "]":
                bracket = bracket - 1 if bracket else 0
            elif ch == '"' and delim != '"':
                quote = not quote
                del buf[i]
                i -= 1
            elif ch == "\\":
                del buf[i]  # the next character is now at i and is skipped as literal
            elif ch == delim and not paren and not quote and not bracket:
                wasdelim = i
                buf[i] = "\0"
                i += 1
                break
            i += 1
        argc += 1
    if i < len(buf) or (i > 0 and wasdelim == i - 1):
        starts.append(i)
    joined = "".join(buf)
    return [joined[s:].split("\0", 1)[0] for s in starts]


def mset(data: str) -> dict[str, str]:
    """pbx_builtin_setvar_multiple: what one ``MSet(...)`` sets."""
    result: dict[str, str] = {}
    for item in separate_args(data, ",", 99):
        pair = separate_args(item, "=", 2)
        if len(pair) == 2:
            result[pair[0]] = pair[1]
    return result


def exec_mset_variables(command: str) -> dict[str, str]:
    """The variables an ``EXEC MSet ...`` AGI command line sets on the channel."""
    argv = agi_parse_args(command)
    assert [a.upper() for a in argv[:2]] == ["EXEC", "MSET"], argv
    return mset(argv[2] if len(argv) > 2 else "")

"""A fake Asterisk manager over real TCP that REPLAYS RECORDED EVENTS.

Asterisk is not packaged for this OS, so the AMI tests talk to this server instead. It
speaks the AMI framing (banner, CRLF, blank-line-terminated messages, ActionID echo) and
sends event messages taken byte for byte from ``shared/fixtures/asterisk/ami/`` (the
Asterisk 22.10.1 lab recordings, or cacofonisk's Asterisk 13 streams re-serialised from
their parsed form), to every logged-in session (several callguard nodes may watch one
Asterisk).

What it synthesises, it says:

- the replies to Login, Ping, Hangup, Getvar and CoreShowChannels (formats from
  ``shared/docs/asterisk-protocol.md`` §2 and Asterisk's CoreShowChannel documentation);
- when a test holds back a channel's recorded events until callguard's Hangup action
  arrives, the moment they are sent (or a Hangup event from the last snapshot);
- ``channelvars``: the lab recordings were made without manager.conf ``channelvars``, so
  the ``ChanVariable: NAME=value`` lines are added here, as Asterisk writes them
  (manager_channels.c ``ast_manager_build_channel_state_string_prefix``: after each
  channel block, prefixed like the block — ``ChanVariable`` for ``Channel``,
  ``DestChanVariable`` for ``DestChannel`` — one line per configured name, ``NAME=`` when
  the channel does not have it), on events and on CoreShowChannel items, for the values a
  test gives the channels with ``set_variable``;
- ``send_raw``: bytes no Asterisk would send (the fuzz tests).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "asterisk" / "ami"
LAB = FIXTURES / "lab-asterisk-22.10.1"
CRLF = "\r\n"
_BLOCK_PREFIXES = ("", "Dest", "LocalOne", "LocalTwo")
_BLOCKS = {f"{p}Linkedid": f"{p}Channel" for p in _BLOCK_PREFIXES}


def parse(message: str) -> dict[str, str]:
    """First value wins, as callguard's tracker reads them."""
    fields: dict[str, str] = {}
    for line in message.split(CRLF):
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value
    return fields


def lab_events(scenario: str) -> list[str]:
    """The call's events as Asterisk sent them (login-time and action-bound ones dropped)."""
    raw = (LAB / f"{scenario}.ami.rx.txt").read_bytes().decode()
    raw = raw.split(CRLF, 1)[1]  # the banner line
    events = []
    for message in raw.split(CRLF + CRLF):
        fields = parse(message)
        if "Event" not in fields or "ActionID" in fields:
            continue
        if fields["Event"] in ("FullyBooted", "SuccessfulAuth"):
            continue
        events.append(message)
    return events


def cacofonisk_events(path: str) -> list[str]:
    """cacofonisk stores parsed events (keys sorted); write them back as AMI messages."""
    out = []
    for event in json.loads((FIXTURES / "cacofonisk" / path).read_text()):
        if event.get("Event") in (None, "FullyBooted"):
            continue
        lines = [f"Event: {event['Event']}"]
        lines += [f"{k}: {v}" for k, v in event.items() if k not in ("Event", "content")]
        out.append(CRLF.join(lines))
    return out


def linkedid_of(events: list[str]) -> str:
    return next(parse(e)["Linkedid"] for e in events if parse(e).get("Event") == "Newchannel")


@dataclass
class FakeAmi:
    """Any number of sessions; tests push events and read the actions callguard sent."""

    secret: str = "test-secret"
    only_events: frozenset[str] | None = None  # emulate manager.conf eventfilter
    honour_hangup: bool = True
    applications: dict[str, str] = field(default_factory=dict)  # channel -> Application
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    channelvars: tuple[str, ...] = ()  # emulate manager.conf [general] channelvars
    chanvars: dict[str, dict[str, str]] = field(default_factory=dict)  # channel -> values
    actions: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)  # channel -> events on Hangup
    live: dict[str, dict[str, str]] = field(default_factory=dict)  # channel -> snapshot
    names: dict[str, str] = field(default_factory=dict)  # every Uniqueid seen -> its name
    accepting: bool = True
    answer_getvar: bool = True  # False: every Getvar gets "No such channel" (a gone channel)
    behind_picture: list[str] = field(default_factory=list)  # events right after the list
    bridge_ids: dict[str, str] = field(default_factory=dict)  # channel -> its BridgeId
    # BridgeList's BridgeListItems (manager_bridges.c ``send_bridge_list_item_cb``; each a
    # bridge state string); None: BridgeList unknown, refused as any action not modelled
    bridge_list: list[dict[str, str]] | None = None
    logins: int = 0  # logins of sessions that receive events (callguard's main one)
    # SYNTHESISED: logins with "Events: off" (callguard's read-only session for Getvars):
    # manager.c ``authenticate`` -> ``set_eventmask`` gives such a session no events, so it
    # gets none here and is not in ``sessions``.
    read_logins: int = 0
    # manager.conf allowmultiplelogin (manager.c ``process_message``: a second Login of a
    # user already logged in is answered "Login Already In Use" and the session closed).
    allowmultiplelogin: bool = True
    # ... and how long that refusal takes: manager.c sleeps 1 s before it (``sleep(1)``
    # ahead of ``astman_send_error(s, m, "Login Already In Use")``); 0 here unless a test
    # needs the wait
    in_use_delay: float = 0.0

    def __post_init__(self) -> None:
        self._wedged: set[asyncio.StreamWriter] = set()  # connections that went silent
        self._server: asyncio.Server | None = None
        self._sessions: list[asyncio.StreamWriter] = []  # logged in: they receive events
        self._connections: set[asyncio.StreamWriter] = set()
        self._users: dict[asyncio.StreamWriter, str] = {}  # logged-in connection -> user
        self.logged_in = asyncio.Event()

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop(self) -> None:
        """Cut every connection (Asterisk restarting, a network fault)."""
        self.logged_in.clear()
        for writer in list(self._connections):
            writer.close()
        self._connections.clear()
        self._sessions.clear()

    def wedge(self) -> None:
        """SYNTHESISED: the open connections go silent for good, never closed — a manager
        thread that is stuck, or a path that lost its peer without a reset (a firewall or
        NAT dropping an idle flow): no reply, no event, no FIN. New connections work."""
        self._wedged.update(self._connections)
        self._sessions.clear()
        self.logged_in.clear()

    @property
    def sessions(self) -> int:
        """Logged-in sessions right now."""
        return len(self._sessions)

    def hangups(self) -> list[str]:
        """The channel names callguard's Hangups named (by Uniqueid: ``named``)."""
        return [self.names.get(a["Channel"]) or self.resolve(a["Channel"]) or a["Channel"]
                for _, a in self.actions if a.get("Action") == "Hangup"]

    def getvars(self) -> list[tuple[str, str]]:
        """(channel name, variable) of callguard's Getvars (by Uniqueid: ``names``)."""
        return [(self.names.get(a["Channel"]) or self.resolve(a["Channel"]) or a["Channel"],
                 a["Variable"]) for _, a in self.actions if a.get("Action") == "Getvar"]

    def resolve(self, channel: str) -> str | None:
        """The live channel an action's Channel names, as Asterisk looks it up: the name
        first, then the Uniqueid (channelstorage.c
        ``channelstorage_by_name_prefix_or_uniqueid``)."""
        if channel in self.live:
            return channel
        return next((name for name, snap in self.live.items()
                     if snap.get("Uniqueid") == channel), None)

    def set_variable(self, channel: str, name: str, value: str) -> None:
        """A channel variable (what the gate's MSet or Dial's inheritance would set)."""
        self.chanvars.setdefault(channel, {})[name] = value

    # --- events ---------------------------------------------------------------------------

    def track(self, message: str, fields: dict[str, str] | None = None) -> None:
        """Keep the live-channel picture the replayed events describe."""
        fields = parse(message) if fields is None else fields
        name = fields.get("Channel")
        if not name or "Uniqueid" not in fields:
            return
        self.names[fields["Uniqueid"]] = name
        if fields.get("Event") == "Hangup":
            self.live.pop(name, None)
        else:
            self.live[name] = fields

    def with_channelvars(self, message: str, fields: dict[str, str] | None = None) -> str:
        """SYNTHESISED: the ChanVariable lines manager.conf channelvars would add."""
        if not self.channelvars:
            return message
        lines = message.split(CRLF)
        out: list[str] = []
        blocks = _BLOCKS
        fields = parse(message) if fields is None else fields
        for line in lines:
            out.append(line)
            key = line.partition(": ")[0]
            if key in blocks:
                prefix = key[: -len("Linkedid")]
                channel = fields.get(blocks[key], "")
                values = self.chanvars.get(channel, {})
                out.extend(f"{prefix}ChanVariable: {name}={values.get(name, '')}"
                           for name in self.channelvars)
        return CRLF.join(out)

    async def send(self, messages: list[str], *, gap: float = 0.0) -> None:
        """Send events (tracking them even when nobody is connected: Asterisk goes on)."""
        for message in messages:
            fields = parse(message)
            self.track(message, fields)
            if self.only_events is not None and fields.get("Event", "") not in self.only_events:
                continue
            data = (self.with_channelvars(message, fields) + CRLF + CRLF).encode()
            for writer in list(self._sessions):
                writer.write(data)
            if gap:
                await self._drain()
                await asyncio.sleep(gap)
        await self._drain()

    async def send_raw(self, data: bytes) -> None:
        """Bytes as they are, to every session (hostile or broken peers)."""
        for writer in list(self._sessions):
            writer.write(data)
        await self._drain()

    def hold(self, messages: list[str]) -> None:
        """These channels' events wait until callguard's Hangup names the channel."""
        for message in messages:
            fields = parse(message)
            channel = fields.get("Channel", "")
            self.held.setdefault(channel, []).append(message)

    async def _drain(self) -> None:
        for writer in list(self._sessions):
            try:
                await writer.drain()
            except ConnectionError:
                self._forget(writer)

    def _forget(self, writer: asyncio.StreamWriter) -> None:
        self._users.pop(writer, None)
        if writer in self._sessions:
            self._sessions.remove(writer)
        self._connections.discard(writer)
        if not self._sessions:
            self.logged_in.clear()

    # --- the manager side -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.close()
            return
        self._connections.add(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = ""
        decoder = codecs.getincrementaldecoder("utf-8")()  # a character may span two reads
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += decoder.decode(chunk)
                while CRLF + CRLF in buffer:
                    message, buffer = buffer.split(CRLF + CRLF, 1)
                    await self._action(writer, parse(message))
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went, or the test's loop is closing
        finally:
            self._forget(writer)
            writer.close()

    def _reply(self, action: dict[str, str], **fields: str) -> str:
        lines = [f"{k}: {v}" for k, v in fields.items()]
        lines.insert(1, f"ActionID: {action.get('ActionID', '')}")
        return CRLF.join(lines) + CRLF + CRLF

    def _value(self, channel: str, variable: str) -> str:
        if (channel, variable) in self.variables:
            return self.variables[(channel, variable)]
        return self.chanvars.get(channel, {}).get(variable, "")

    async def _action(self, writer: asyncio.StreamWriter,  # noqa: PLR0912 - one per action
                      action: dict[str, str]) -> None:
        self.actions.append((time.monotonic(), action))
        if writer in self._wedged:
            return
        name = action.get("Action", "").lower()
        out: list[str] = []
        events: list[str] = []  # events an action causes go to every session
        if name == "login":
            if action.get("Secret") != self.secret:
                # Recorded (lab ami-login-failed): the error about 1 s later, then EOF.
                out.append(self._reply(action, Response="Error",
                                       Message="Authentication failed"))
                writer.write("".join(out).encode())
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                writer.close()
                return
            user = action.get("Username", "")
            if not self.allowmultiplelogin and user in self._users.values():
                await asyncio.sleep(self.in_use_delay)
                out.append(self._reply(action, Response="Error",
                                       Message="Login Already In Use"))
                writer.write("".join(out).encode())
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                writer.close()
                return
            self._users[writer] = user
            out.append(self._reply(action, Response="Success",
                                   Message="Authentication accepted"))
            if action.get("Events", "").lower() == "off":
                self.read_logins += 1  # no FullyBooted: its send_events has no "system"
            else:
                self.logins += 1
                out.append("Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1\r\n"
                           "LastReload: 1\r\nStatus: Fully Booted\r\n\r\n")
                self._sessions.append(writer)
                self.logged_in.set()
        elif name == "ping":
            out.append(self._reply(action, Response="Success", Ping="Pong",
                                   Timestamp=f"{time.time():.6f}"))
        elif name == "getvar":
            variable = action.get("Variable", "")
            channel = self.resolve(action.get("Channel", "")) or ""
            if channel not in self.live or not self.answer_getvar:
                out.append(self._reply(action, Response="Error", Message="No such channel"))
            else:
                out.append(self._reply(action, Response="Success", Variable=variable,
                                       Value=self._value(channel, variable)))
        elif name == "coreshowchannels":
            out.append(self._reply(action, Response="Success", EventList="start",
                                   Message="Channels will follow"))
            for channel, snap in self.live.items():
                item = {"Event": "CoreShowChannel", "ActionID": action.get("ActionID", ""),
                        **{k: v for k, v in snap.items() if k not in ("Event", "Privilege",
                                                                      "Cause", "Cause-txt")},
                        "BridgeId": self.bridge_ids.get(channel, ""),
                        "Application": self.applications.get(channel, "Wait"),
                        "ApplicationData": "", "Duration": "00:00:05"}
                text = CRLF.join(f"{k}: {v}" for k, v in item.items())
                out.append(self.with_channelvars(text) + CRLF + CRLF)
            out.append(f"Event: CoreShowChannelsComplete\r\nActionID: "
                       f"{action.get('ActionID', '')}\r\nEventList: Complete\r\n"
                       f"ListItems: {len(self.live)}\r\n\r\n")
            # Events Asterisk writes right behind the list, read in the same chunk.
            for message in self.behind_picture:
                self.track(message)
                out.append(self.with_channelvars(message) + CRLF + CRLF)
            self.behind_picture = []
        elif name == "bridgelist" and self.bridge_list is not None:
            out.append(self.bridge_listing(action))
        elif name == "hangup":
            channel = self.resolve(action.get("Channel", "")) or ""
            if channel not in self.live:
                out.append(self._reply(action, Response="Error", Message="No such channel"))
            else:
                out.append(self._reply(action, Response="Success", Message="Channel Hungup"))
                if self.honour_hangup:
                    events = self.held.pop(channel, None) or [self._synth_hangup(channel)]
        elif name == "logoff":
            out.append(self._reply(action, Response="Goodbye",
                                   Message="Thanks for all the fish."))
        else:
            out.append(self._reply(action, Response="Error",
                                   Message=f"Invalid/unknown command: {action.get('Action')}."))
        writer.write("".join(out).encode())
        if events:
            await self.send(events)
        try:
            await writer.drain()
        except ConnectionError:
            self._forget(writer)

    def bridge_listing(self, action: dict[str, str]) -> str:
        """manager_bridges.c ``manager_bridges_list``: the list ack, one BridgeListItem per
        bridge, BridgeListComplete (``astman_send_list_complete_start``/``_end``)."""
        action_id = action.get("ActionID", "")
        out = [self._reply(action, Response="Success", EventList="start",
                           Message="Bridge listing will follow")]
        for bridge in self.bridge_list or []:
            item = {"Event": "BridgeListItem", "ActionID": action_id, **bridge}
            out.append(CRLF.join(f"{k}: {v}" for k, v in item.items()) + CRLF + CRLF)
        out.append(f"Event: BridgeListComplete\r\nActionID: {action_id}\r\n"
                   f"EventList: Complete\r\nListItems: {len(self.bridge_list or [])}\r\n\r\n")
        return "".join(out)

    def _synth_hangup(self, channel: str) -> str:
        """SYNTHESISED: a Hangup event from the channel's last recorded snapshot."""
        snap = {k: v for k, v in self.live[channel].items() if k not in ("Event",)}
        snap.update(Event="Hangup", Privilege="call,all", Cause="16",
                    **{"Cause-txt": "Normal Clearing"})
        return CRLF.join(f"{k}: {v}" for k, v in {"Event": "Hangup", **snap}.items())

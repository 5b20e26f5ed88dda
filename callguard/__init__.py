"""callguard: a telemarketing-law compliance gate in the outbound call path."""

# The command's Ctrl-C guard first (it imports os and signal alone): this package runs
# before callguard.cli.main takes SIGINT over, and zoneinfo (sysconfig behind it: tens of
# ms on a loaded host) was Python's KeyboardInterrupt traceback for a Ctrl-C (hrev140).
from callguard.cli.interrupts import quiet_imports as _quiet_imports

with _quiet_imports():
    import zoneinfo as _zoneinfo

__version__ = "0.1.0"

# Every zone's rules come from the pinned ``tzdata`` package, never the host's
# /usr/share/zoneinfo: nodes on hosts with different tzdata releases must judge calling
# hours alike (the site's regions are read from the same package, numbers/location.py).
_zoneinfo.reset_tzpath(to=())
# A zone read before this import (by whatever imported callguard) came from the host's
# directory and is cached under its name: ZoneInfo(name) would go on returning it.
_zoneinfo.ZoneInfo.clear_cache()

"""Is the process a holder string names (``<role>:<machine>:<pid>``, see
connectors.sync.state) still running?

``<machine>`` is the host name and, on Linux, the PID namespace (``host~4026531836``):
containers that share a host name (host networking, a fixed ``hostname:``) have PID spaces of
their own, and one must never read another's PIDs. Only a process of this machine can be
checked (signal 0, and /proc for zombies); for any other the answer is "not known to be gone"
and the caller waits for the lease to expire.
Every doubt answers "alive": a pid reused by an unrelated process costs a wait for the lease's
expiry, never a second replica running a live holder's job.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def machine() -> str:
    """This process's host name and PID namespace: where a PID means one process."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}~{''.join(c for c in namespace if c.isdigit())}"


def _host_and_pid(holder: str) -> tuple[str, int] | None:
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def on_this_host(holder: str) -> bool:
    found = _host_and_pid(holder)
    return found is not None and found[0] == machine()


def holder_gone(holder: str) -> bool:
    """True only when ``holder`` is a process of this host that no longer runs."""
    found = _host_and_pid(holder)
    if found is None or not on_this_host(holder):
        return False
    pid = found[1]
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    except OSError:
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers signal 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat[stat.rfind(")") + 1 :].split()[:1] == ["Z"]

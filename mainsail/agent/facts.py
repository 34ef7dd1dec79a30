"""Host facts, read from /proc, /etc and the interpreter: no subprocesses, no DNS."""
from __future__ import annotations

import os
import platform
import pwd
import shlex
import socket
import sys
from typing import Any, Dict, List, Optional

SYSTEMD_MARKER = "/run/systemd/system"


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def parse_os_release(text: str) -> Dict[str, str]:
    """KEY=value lines with shell quoting, as os-release(5) specifies."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        out[key.strip()] = parts[0] if parts else ""
    return out


def os_facts(text: str) -> Dict[str, str]:
    rel = parse_os_release(text)
    return {"id": rel.get("ID", ""), "version_id": rel.get("VERSION_ID", ""),
            "codename": rel.get("VERSION_CODENAME", ""), "pretty": rel.get("PRETTY_NAME", "")}


def parse_fib_trie(text: str) -> List[str]:
    """Local IPv4 addresses: an address line followed by '/32 host LOCAL'.

    Every address is kept; loopback ones are listed last, so the first
    address is the one a template most likely wants.
    """
    found: List[str] = []
    last_addr: Optional[str] = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last_addr = stripped[3:].strip()
        elif stripped.startswith("/32 host LOCAL") and last_addr and last_addr not in found:
            found.append(last_addr)
    return sorted(found, key=lambda a: (a.startswith("127."), _ip_key(a)))


def _ip_key(addr: str) -> List[int]:
    try:
        return [int(p) for p in addr.split(".")]
    except ValueError:
        return []


def parse_meminfo_mb(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            return int(parts[1]) // 1024 if len(parts) > 1 and parts[1].isdigit() else 0
    return 0


def fqdn_from_hosts(hostname: str, hosts_text: str) -> str:
    """The canonical name of the /etc/hosts line naming this host (no DNS, so no hang)."""
    for line in hosts_text.splitlines():
        names = line.split("#", 1)[0].split()[1:]
        if hostname in names or any(n.split(".")[0] == hostname for n in names):
            dotted = [n for n in names if n.startswith(hostname + ".")]
            return dotted[0] if dotted else names[0]
    return hostname


def init_system(marker: Optional[str] = None) -> str:
    """systemd is running exactly when its runtime folder exists (sd_booted(3))."""
    return "systemd" if os.path.isdir(marker or SYSTEMD_MARKER) else "sysv"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def gather() -> Dict[str, Any]:
    hostname = socket.gethostname()
    uname = os.uname()
    return {
        "hostname": hostname.split(".")[0],
        "fqdn": fqdn_from_hosts(hostname, read_text("/etc/hosts")),
        "os": os_facts(read_text("/etc/os-release")),
        "kernel": uname.release,
        "arch": uname.machine,
        "init": init_system(),
        "python": {"version": platform.python_version(), "path": sys.executable},
        "cpus": _cpus(),
        "memory_mb": parse_meminfo_mb(read_text("/proc/meminfo")),
        "addresses": parse_fib_trie(read_text("/proc/net/fib_trie")),
        "user": _user(),
        "uid": os.geteuid(),
    }

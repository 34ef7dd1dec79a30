"""Host facts, read from /proc, /sys, /etc and the interpreter: no subprocesses, no DNS.

They arrive with the agent's hello, so they cost no round trip; reading them takes about a
millisecond. ``gather(subsets)`` reads only some groups of them (the ``setup`` operation's
``gather_subset``)."""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import pwd
import re
import shlex
import socket
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Optional

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


# ---------------------------------------------------------------------------- network

_IFACE_TYPES = {"1": "ether", "32": "infiniband", "512": "ppp", "772": "loopback",
                "65534": "tunnel"}
_SIOCGIFADDR, _SIOCGIFBRDADDR, _SIOCGIFNETMASK = 0x8915, 0x8919, 0x891B
_V6_SCOPES = {"00": "global", "20": "link", "10": "host", "40": "site", "05": "site"}
SYS_NET = "/sys/class/net"


def _ioctl_address(sock: Any, request: int, name: str) -> str:
    """One IPv4 address of an interface from the kernel (no process, no netlink)."""
    packed = struct.pack("256s", name.encode("utf-8")[:15])
    return socket.inet_ntoa(fcntl.ioctl(sock.fileno(), request, packed)[20:24])


def _ipv4_of(sock: Any, name: str) -> Dict[str, Any]:
    try:
        address = _ioctl_address(sock, _SIOCGIFADDR, name)
        netmask = _ioctl_address(sock, _SIOCGIFNETMASK, name)
    except OSError:
        return {}
    try:
        broadcast = _ioctl_address(sock, _SIOCGIFBRDADDR, name)
    except OSError:
        broadcast = ""
    mask = struct.unpack("!I", socket.inet_aton(netmask))[0]
    network = socket.inet_ntoa(struct.pack("!I", struct.unpack(
        "!I", socket.inet_aton(address))[0] & mask))
    return {"address": address, "broadcast": broadcast if broadcast != "0.0.0.0" else "",
            "netmask": netmask, "network": network, "prefix": str(bin(mask).count("1"))}


def parse_if_inet6(text: str) -> Dict[str, List[Dict[str, str]]]:
    """/proc/net/if_inet6: each interface's IPv6 addresses with prefix length and scope."""
    found = {}  # type: Dict[str, List[Dict[str, str]]]
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or len(parts[0]) != 32:
            continue
        address = ":".join(parts[0][i:i + 4] for i in range(0, 32, 4))
        address = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, address))
        found.setdefault(parts[5], []).append({
            "address": address, "prefix": str(int(parts[2], 16)),
            "scope": _V6_SCOPES.get(parts[3], parts[3])})
    return found


def parse_route(text: str) -> Dict[str, str]:
    """/proc/net/route: the interface and gateway of the IPv4 default route, if any."""
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and parts[1] == "00000000" and parts[7] == "00000000":
            gateway = socket.inet_ntoa(struct.pack("<I", int(parts[2], 16)))
            return {"interface": parts[0], "gateway": gateway}
    return {}


def parse_ipv6_route(text: str) -> Dict[str, str]:
    """/proc/net/ipv6_route: the interface and gateway of the IPv6 default route, if any."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 10 and parts[0] == "0" * 32 and parts[1] == "00" and \
                parts[9] != "lo":
            hop = ":".join(parts[4][i:i + 4] for i in range(0, 32, 4))
            gateway = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, hop))
            return {"interface": parts[9], "gateway": gateway}
    return {}


_SIOCGIFFLAGS, _SIOCGIFMTU, _SIOCGIFHWADDR = 0x8913, 0x8921, 0x8927
_IFF_RUNNING = 0x40


def _ifreq(sock: Any, request: int, name: str) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("256s", name.encode("utf-8")[:15]))


def _link_of(sock: Any, name: str) -> Dict[str, Any]:
    """An interface's state, MTU, hardware type and address, asked of the kernel with one
    ioctl each on an open socket (much cheaper than reading four files of /sys per interface)."""
    flags = struct.unpack("H", _ifreq(sock, _SIOCGIFFLAGS, name)[16:18])[0]
    mtu = struct.unpack("i", _ifreq(sock, _SIOCGIFMTU, name)[16:20])[0]
    hw = _ifreq(sock, _SIOCGIFHWADDR, name)[16:24]
    family = struct.unpack("H", hw[:2])[0]
    link = {"device": name, "active": bool(flags & _IFF_RUNNING),
            "type": _IFACE_TYPES.get(str(family), "unknown"), "mtu": mtu}  # type: Dict[str, Any]
    mac = ":".join("%02x" % b for b in bytearray(hw[2:8]))
    if family == 1 and mac != "00:00:00:00:00:00":
        link["macaddress"] = mac
    return link


def interfaces(root: str = SYS_NET) -> Dict[str, Dict[str, Any]]:
    """Each network interface as Ansible describes it: device, macaddress, mtu, active,
    type, ipv4 (the primary address) and ipv6 (a list)."""
    v6 = parse_if_inet6(read_text("/proc/net/if_inet6"))
    out = {}  # type: Dict[str, Dict[str, Any]]
    try:
        names = sorted(name for _, name in socket.if_nameindex())
    except OSError:
        return out
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for name in names:
            try:
                iface = _link_of(sock, name)
            except OSError:
                continue  # gone since it was listed
            if os.path.isdir(os.path.join(root, name, "bridge")):
                iface["type"] = "bridge"
            ipv4 = _ipv4_of(sock, name)
            if ipv4:
                iface["ipv4"] = ipv4
            if name in v6:
                iface["ipv6"] = v6[name]
            out[name] = iface
    finally:
        sock.close()
    return out


def default_route(ifaces: Dict[str, Dict[str, Any]], route: Dict[str, str],
                  family: str) -> Dict[str, Any]:
    """Ansible's default_ipv4/default_ipv6: the default route's interface and its address."""
    iface = ifaces.get(route.get("interface", ""))
    if not iface:
        return {}
    out = {"interface": iface["device"], "alias": iface["device"],
           "gateway": route.get("gateway", ""), "type": iface.get("type", "unknown"),
           "mtu": iface.get("mtu", 0), "macaddress": iface.get("macaddress", "")}
    if family == "ipv4":
        out.update(iface.get("ipv4") or {})
    else:
        best = [a for a in iface.get("ipv6") or [] if a["scope"] == "global"]
        out.update(best[0] if best else {})
    return out


def network() -> Dict[str, Any]:
    ifaces = interfaces()
    return {"net": {"interfaces": ifaces,
                    "default_ipv4": default_route(ifaces, parse_route(
                        read_text("/proc/net/route")), "ipv4"),
                    "default_ipv6": default_route(ifaces, parse_ipv6_route(
                        read_text("/proc/net/ipv6_route")), "ipv6")},
            "addresses": parse_fib_trie(read_text("/proc/net/fib_trie"))}


# ---------------------------------------------------------------------------- hardware

def parse_cpuinfo(text: str, vcpus_usable: int) -> Dict[str, Any]:
    """Sockets, cores per socket, threads per core, logical CPUs and their model names."""
    models = []  # type: List[str]
    sockets = set()
    cores = siblings = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name":
            models.append(value)
        elif key == "physical id":
            sockets.add(value)
        elif key == "cpu cores" and value.isdigit():
            cores = int(value)
        elif key == "siblings" and value.isdigit():
            siblings = int(value)
    count = len(sockets) or 1
    cores = cores or max(1, len(models) // count)
    threads = max(1, siblings // cores) if siblings else 1
    return {"count": count, "cores": cores, "threads_per_core": threads,
            "vcpus": len(models) or vcpus_usable, "models": models}


def parse_meminfo(text: str) -> Dict[str, int]:
    """/proc/meminfo in MB: total, free, available, swap total and free, buffers, cached."""
    fields = {"MemTotal": "total_mb", "MemFree": "free_mb", "MemAvailable": "available_mb",
              "SwapTotal": "swap_total_mb", "SwapFree": "swap_free_mb",
              "Buffers": "buffers_mb", "Cached": "cached_mb"}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key in fields and parts and parts[0].isdigit():
            out[fields[key]] = int(parts[0]) // 1024
    return out


# Mounts whose size is not read: asking a network file system can hang when its server is
# away, and facts must come back at once.
_REMOTE_FS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "ceph", "glusterfs",
                        "fuse.sshfs", "9p", "afs", "lustre"})


def parse_mounts(text: str) -> List[Dict[str, Any]]:
    """/proc/mounts entries backed by a device or a network share (not proc, tmpfs...)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        device, mount, fstype, options = (p.replace("\\040", " ") for p in parts[:4])
        if fstype == "none" or not (device.startswith("/") or ":/" in device):
            continue
        out.append({"mount": mount, "device": device, "fstype": fstype, "options": options})
    return out


def mount_sizes(entry: Dict[str, Any]) -> Dict[str, Any]:
    """Ansible's size fields of a mount, from statvfs (skipped for network file systems)."""
    if entry["fstype"] in _REMOTE_FS:
        return entry
    try:
        st = os.statvfs(entry["mount"])
    except OSError:
        return entry
    return dict(entry, size_total=st.f_frsize * st.f_blocks,
                size_available=st.f_frsize * st.f_bavail, block_size=st.f_bsize,
                block_total=st.f_blocks, block_available=st.f_bavail,
                block_used=st.f_blocks - st.f_bfree, inode_total=st.f_files,
                inode_available=st.f_favail, inode_used=st.f_files - st.f_ffree)


def hardware() -> Dict[str, Any]:
    cpus, meminfo = _cpus(), read_text("/proc/meminfo")
    return {"cpus": cpus,
            "cpu": parse_cpuinfo(read_text("/proc/cpuinfo"), cpus),
            "memory_mb": parse_meminfo_mb(meminfo),
            "memory": parse_meminfo(meminfo),
            "mounts": [mount_sizes(m) for m in parse_mounts(read_text("/proc/mounts"))],
            "uptime_seconds": int(float((read_text("/proc/uptime").split() or ["0"])[0]))}


# ---------------------------------------------------------------------------- system

def virtualization(container_marker: str = "/run/systemd/container",
                   dmi: str = "/sys/class/dmi/id") -> Dict[str, str]:
    """Ansible's virtualization_type/role from what the system says about itself."""
    container = read_text(container_marker).strip()
    if container:
        return {"type": container, "role": "guest"}
    if os.path.exists("/.dockerenv"):
        return {"type": "docker", "role": "guest"}
    vendor = (read_text(os.path.join(dmi, "sys_vendor")) + " " +
              read_text(os.path.join(dmi, "product_name"))).lower()
    for word, kind in (("kvm", "kvm"), ("qemu", "kvm"), ("vmware", "VMware"),
                       ("virtualbox", "virtualbox"), ("xen", "xen"),
                       ("microsoft", "VirtualPC"), ("amazon ec2", "kvm")):
        if word in vendor:
            return {"type": kind, "role": "guest"}
    return {"type": "", "role": ""}


def parse_lsb_release(text: str) -> Dict[str, str]:
    """/etc/lsb-release (DISTRIB_ID=...) as Ansible's lsb fact; {} when there is none."""
    rel = parse_os_release(text)
    keys = {"DISTRIB_ID": "id", "DISTRIB_RELEASE": "release",
            "DISTRIB_DESCRIPTION": "description", "DISTRIB_CODENAME": "codename"}
    out = {name: rel[key] for key, name in keys.items() if key in rel}
    if out.get("release"):
        out["major_release"] = out["release"].split(".")[0]
    return out


def parse_resolv_conf(text: str) -> Dict[str, Any]:
    out = {}  # type: Dict[str, Any]
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        if parts[0] == "nameserver":
            out.setdefault("nameservers", []).append(parts[1])
        elif parts[0] == "domain":
            out["domain"] = parts[1]
        elif parts[0] == "search":
            out["search"] = parts[1:]
        elif parts[0] == "options":
            out.setdefault("options", {}).update(
                dict((o.split(":", 1) + [True])[:2] for o in parts[1:]))
    return out


def date_time(now: Optional[float] = None) -> Dict[str, str]:
    """Ansible's date_time fact: the host's clock, local and UTC."""
    stamp = time.time() if now is None else now
    local = datetime.datetime.fromtimestamp(stamp)
    utc = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc)
    return {"year": local.strftime("%Y"), "month": local.strftime("%m"),
            "weekday": local.strftime("%A"), "weekday_number": local.strftime("%w"),
            "weeknumber": local.strftime("%W"), "day": local.strftime("%d"),
            "hour": local.strftime("%H"), "minute": local.strftime("%M"),
            "second": local.strftime("%S"), "epoch": str(int(stamp)),
            "epoch_int": str(int(stamp)), "date": local.strftime("%Y-%m-%d"),
            "time": local.strftime("%H:%M:%S"),
            "iso8601_micro": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "iso8601_basic": local.strftime("%Y%m%dT%H%M%S%f"),
            "iso8601_basic_short": local.strftime("%Y%m%dT%H%M%S"),
            "tz": time.strftime("%Z", time.localtime(stamp)), "tz_dst": time.tzname[1],
            "tz_offset": time.strftime("%z", time.localtime(stamp))}


def _account() -> Dict[str, Any]:
    """The login's passwd entry under Ansible's fact names."""
    try:
        entry = pwd.getpwuid(os.geteuid())
    except KeyError:
        return {"user_id": str(os.geteuid()), "user_uid": os.geteuid(),
                "user_gid": os.getegid(), "user_gecos": "",
                "user_dir": os.environ.get("HOME", ""), "user_shell": ""}
    return {"user_id": entry.pw_name, "user_uid": entry.pw_uid, "user_gid": entry.pw_gid,
            "user_gecos": entry.pw_gecos, "user_dir": entry.pw_dir,
            "user_shell": entry.pw_shell}


def selinux_apparmor() -> Dict[str, Any]:
    enforce = read_text("/sys/fs/selinux/enforce").strip()
    selinux = {"status": "enabled", "mode": "enforcing" if enforce == "1" else "permissive"} \
        if enforce else False  # type: Any
    apparmor = "enabled" if os.path.isdir("/sys/kernel/security/apparmor") else "disabled"
    # Ansible's fips fact: the kernel's FIPS mode (targets skip md5 checks with it)
    fips = read_text("/proc/sys/crypto/fips_enabled").strip() == "1"
    return {"selinux": selinux, "apparmor": {"status": apparmor}, "fips": fips}


# platform's own parser of a CPython sys.version (Python 3.8 to 3.13): importing platform
# for this one string was a noticeable part of every agent start
_SYS_VERSION = re.compile(r"([\w.+]+)\s*\(#?([^,]+)(?:,\s*([\w ]*)(?:,\s*([\w :]*))?)?\)\s*"
                          r"\[([^\]]+)\]?", re.ASCII)


def python_version() -> str:
    """platform.python_version(), read as platform reads it; other Pythons ask platform."""
    text = sys.version
    match = _SYS_VERSION.match(text)
    if match is None or "IronPython" in text or "PyPy" in text or sys.platform.startswith("java"):
        import platform
        return platform.python_version()
    parts = match.group(1).split(".")
    return ".".join(parts + ["0"]) if len(parts) == 2 else match.group(1)


def minimal() -> Dict[str, Any]:
    hostname = socket.gethostname()
    uname = os.uname()
    out = {
        "hostname": hostname.split(".")[0],
        "fqdn": fqdn_from_hosts(hostname, read_text("/etc/hosts")),
        "nodename": uname.nodename,
        "os": os_facts(read_text("/etc/os-release")),
        "lsb": parse_lsb_release(read_text("/etc/lsb-release")),
        "kernel": uname.release,
        "kernel_version": uname.version,
        "arch": uname.machine,
        "init": init_system(),
        "python": {"version": python_version(), "path": sys.executable},
        "user": _user(),
        "uid": os.geteuid(),
        "account": _account(),
        "env": dict(os.environ),
        "date_time": date_time(),
        "dns": parse_resolv_conf(read_text("/etc/resolv.conf")),
        "machine_id": read_text("/etc/machine-id").strip(),
        "cmdline": read_text("/proc/cmdline").strip(),
    }  # type: Dict[str, Any]
    out.update(selinux_apparmor())
    out["local"] = local_facts(FACT_PATH)
    if out["init"] == "systemd":
        out["systemd"] = systemd_facts()
    return out


_SYSTEMD_LIBS = ("/usr/lib/systemd", "/usr/lib/x86_64-linux-gnu/systemd",
                 "/usr/lib/aarch64-linux-gnu/systemd", "/lib/systemd")


def systemd_facts() -> Dict[str, Any]:
    """Ansible's ansible_systemd without running systemctl: the version from the name of
    systemd's shared library, its build features from the library's own text (a search
    through a mapped file, about a millisecond)."""
    import mmap
    for folder in _SYSTEMD_LIBS:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            found = re.match(r"libsystemd-shared-(\d+)[^/]*\.so$", name)
            if not found:
                continue
            features = ""
            try:
                with open(os.path.join(folder, name), "rb") as handle, \
                        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    start = data.find(b"PAM +AUDIT") - 1  # "+PAM" or "-PAM", then the rest
                    if start < 0:
                        start = data.find(b"PAM -AUDIT") - 1
                    if start >= 0:
                        end = data.find(b"\0", start)
                        features = data[start:end].decode("ascii", "replace")
            except (OSError, ValueError):
                pass
            return {"version": int(found.group(1)), "features": features}
    return {}


FACT_PATH = "/etc/ansible/facts.d"


def local_facts(folder: str) -> Dict[str, Any]:
    """``*.fact`` files (JSON, else INI) under ``folder``: Ansible's ``ansible_local``.
    Executable fact files are not run; their entry says so."""
    out = {}  # type: Dict[str, Any]
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".fact"))
    except OSError:
        return out
    for name in names:
        path = os.path.join(folder, name)
        key = name[:-len(".fact")]
        if os.access(path, os.X_OK):
            out[key] = "error loading facts: executable fact files are not run"
            continue
        text = read_text(path)
        try:
            out[key] = json.loads(text)
            continue
        except ValueError:
            pass
        import configparser  # here: only ini local facts need it
        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error as exc:
            out[key] = "error loading facts as JSON or ini: %s" % exc
            continue
        out[key] = dict((section, dict(parser.items(section))) for section in parser.sections())
    return out


#: Ansible's gather_subset names and what each reads; ``min`` is always read.
SUBSETS = {"network": network, "hardware": hardware,
           "virtual": lambda: {"virtualization": virtualization()}}  # type: Dict[str, Callable[[], Dict[str, Any]]]


def gather(subsets: Optional[List[str]] = None) -> Dict[str, Any]:
    """The host's facts: ``min`` plus the named ``subsets`` (default: all of them)."""
    out = minimal()
    for name in (sorted(SUBSETS) if subsets is None else subsets):
        out.update(SUBSETS[name]())
    return out


# ---------------------------------------------------------------------------- Ansible's names

_FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "raspbian": "Debian", "rhel": "RedHat",
             "centos": "RedHat", "fedora": "RedHat", "rocky": "RedHat", "almalinux": "RedHat",
             "alpine": "Alpine", "arch": "Archlinux", "opensuse-leap": "Suse"}
_PKG_MGRS = {"Debian": "apt", "RedHat": "dnf", "Alpine": "apk", "Archlinux": "pacman",
             "Suse": "zypper"}


def _version_parts(text: str) -> List[int]:
    parts = (text.split(".") + ["0", "0", "0"])[:3]
    return [int(p) if p.isdigit() else 0 for p in parts]


def _names_min(facts: Dict[str, Any]) -> Dict[str, Any]:
    os_info = facts.get("os") or {}
    os_id = str(os_info.get("id") or "")
    version = str(os_info.get("version_id") or "")
    family = _FAMILIES.get(os_id, os_id.capitalize())
    python = facts.get("python") or {}
    py_version = str(python.get("version") or "")
    major, minor, micro = _version_parts(py_version)
    account = facts.get("account") or {}
    fqdn = str(facts.get("fqdn") or facts.get("hostname") or "")
    lsb = facts.get("lsb")
    if not lsb:  # no /etc/lsb-release: what lsb_release would say, from os-release
        lsb = {"id": os_id.capitalize(), "release": version,
               "codename": os_info.get("codename", ""),
               "description": os_info.get("pretty", ""),
               "major_release": version.split(".")[0]}
    named = {
        "distribution": {"debian": "Debian", "ubuntu": "Ubuntu"}.get(os_id, os_id.capitalize()),
        "os_family": family, "distribution_release": os_info.get("codename", ""),
        "distribution_version": version, "distribution_major_version": version.split(".")[0],
        "hostname": facts.get("hostname", ""), "fqdn": fqdn,
        "domain": fqdn.partition(".")[2],
        "nodename": facts.get("nodename") or facts.get("fqdn") or facts.get("hostname", ""),
        "system": "Linux", "kernel": facts.get("kernel", ""),
        "architecture": facts.get("arch", ""), "machine": facts.get("arch", ""),
        "userspace_architecture": facts.get("arch", ""),
        "service_mgr": facts.get("init", ""), "pkg_mgr": _PKG_MGRS.get(family, "unknown"),
        "user_id": facts.get("user", ""), "user_uid": facts.get("uid"),
        "python_version": py_version,
        "python": {"executable": python.get("path", ""), "type": "CPython",
                   "version": {"major": major, "minor": minor, "micro": micro},
                   "version_info": [major, minor, micro]},
        "lsb": lsb,
    }  # type: Dict[str, Any]
    if account:
        named.update(account)
        named.update(real_user_id=account.get("user_uid"),
                     effective_user_id=account.get("user_uid"),
                     real_group_id=account.get("user_gid"),
                     effective_group_id=account.get("user_gid"))
    for key in ("kernel_version", "env", "date_time", "dns", "machine_id", "cmdline", "local",
                "uptime_seconds", "mounts", "selinux", "apparmor", "fips", "systemd"):
        if key in facts:
            named[key] = facts[key]
    return named


def _names_hardware(facts: Dict[str, Any]) -> Dict[str, Any]:
    named = {"processor_vcpus": facts.get("cpus"), "processor_cores": facts.get("cpus"),
             "memtotal_mb": facts.get("memory_mb")}  # type: Dict[str, Any]
    cpu, memory = facts.get("cpu"), facts.get("memory")
    if cpu:
        processor = []  # type: List[str]
        for index, model in enumerate(cpu.get("models") or []):
            processor += [str(index), model]
        named.update(processor_count=cpu.get("count"), processor_cores=cpu.get("cores"),
                     processor_threads_per_core=cpu.get("threads_per_core"),
                     processor_vcpus=cpu.get("vcpus"),
                     processor_nproc=facts.get("cpus"), processor=processor)
    if memory:
        total, free = memory.get("total_mb", 0), memory.get("free_mb", 0)
        cache = memory.get("buffers_mb", 0) + memory.get("cached_mb", 0)
        swap_total, swap_free = memory.get("swap_total_mb", 0), memory.get("swap_free_mb", 0)
        named.update(memtotal_mb=total, memfree_mb=free, swaptotal_mb=swap_total,
                     swapfree_mb=swap_free, memory_mb={
                         "real": {"total": total, "free": free, "used": total - free},
                         "nocache": {"free": free + cache, "used": total - free - cache},
                         "swap": {"total": swap_total, "free": swap_free,
                                  "used": swap_total - swap_free}})
    return named


def _names_network(facts: Dict[str, Any]) -> Dict[str, Any]:
    addresses = list(facts.get("addresses") or [])
    named = {"all_ipv4_addresses": addresses}  # type: Dict[str, Any]
    net = facts.get("net")
    if not net:
        if addresses:
            named["default_ipv4"] = {"address": addresses[0]}
        return named
    ifaces = net.get("interfaces") or {}
    named["interfaces"] = sorted(ifaces)
    named["_interfaces"] = {name.replace("-", "_"): iface for name, iface in ifaces.items()}
    v4 = [i["ipv4"]["address"] for i in ifaces.values() if i.get("ipv4")]
    # Ansible leaves out loopback addresses; a host whose only addresses are loopback ones
    # (a testbed container sharing 127.0.0.0/8) keeps the list the hello gave.
    named["all_ipv4_addresses"] = [a for a in v4 if not a.startswith("127.")] or addresses
    named["all_ipv6_addresses"] = [a["address"] for i in ifaces.values()
                                   for a in i.get("ipv6") or [] if a["address"] != "::1"]
    named["default_ipv4"] = net.get("default_ipv4") or \
        ({"address": addresses[0]} if addresses else {})
    named["default_ipv6"] = net.get("default_ipv6") or {}
    return named


def ansible_names(facts: Dict[str, Any]) -> Dict[str, Any]:
    """The host's facts under Ansible's names (``distribution``, ``os_family``,
    ``default_ipv4``, ``mounts``, ...), each of which is also ``ansible_<name>``."""
    if not facts:
        return {}
    named = _names_min(facts)
    named.update(_names_hardware(facts))
    named.update(_names_network(facts))
    for name, iface in named.pop("_interfaces", {}).items():
        named.setdefault(name, iface)  # an interface never hides a fact of the same name
    virtual = facts.get("virtualization")
    if virtual:
        named.update(virtualization_type=virtual.get("type", ""),
                     virtualization_role=virtual.get("role", ""))
    return named

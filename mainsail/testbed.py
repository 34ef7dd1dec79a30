"""The built-in testbed: isolated Debian hosts on this machine, reachable over real SSH.

Each host is a Debian bookworm root filesystem built once with debootstrap into a cache folder
and shared read-only by every host through overlayfs; each host keeps its own writable layer.
Its sshd runs chrooted in that filesystem inside its own PID, mount, UTS and IPC namespaces and
listens only on the host's address. Mounts live in the host's private mount namespace, so they
disappear when the host stops.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .errors import BadInput, MainsailError

SUITE = "bookworm"
BASE_PACKAGES = ("openssh-server", "python3", "procps")
# Bump when the base recipe changes so old caches are rebuilt rather than trusted.
BASE_RECIPE = "1"
APT_DEPS = {"debootstrap": "debootstrap", "unshare": "util-linux", "mount": "mount",
            "ssh-keygen": "openssh-client", "ip": "iproute2"}
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

Say = Callable[[str], None]


class TestbedError(MainsailError):
    exit_code = 1


@dataclass(frozen=True)
class TestbedHost:
    name: str
    address: str
    known_hosts: Path


@dataclass(frozen=True)
class Layout:
    """Where the testbed keeps things: a machine-wide cache and a per-project state folder."""

    cache: Path
    state: Path

    @property
    def base(self) -> Path:
        return self.cache / ("rootfs-%s-%s" % (SUITE, BASE_RECIPE))

    @property
    def client_key(self) -> Path:
        return self.state / "id_ed25519"

    def host_dir(self, name: str) -> Path:
        return self.state / "hosts" / name


def default_layout(project: Path) -> Layout:
    cache = Path(os.environ.get("MAINSAIL_TESTBED_CACHE", "/var/cache/mainsail/testbed"))
    return Layout(cache=cache, state=project / ".testbed")


def is_testbed_address(address: str) -> bool:
    """Testbed hosts are the inventory's loopback hosts other than 127.0.0.1 itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and ip.is_loopback and str(ip) != "127.0.0.1"


# ---------------------------------------------------------------------------- prerequisites

def check_prerequisites(say: Say, install: bool = True) -> None:
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root (namespaces, mounts, loopback addresses)",
                           hint="run it as root, e.g. with sudo")
    missing = sorted({pkg for cmd, pkg in APT_DEPS.items() if shutil.which(cmd) is None})
    if missing and install and shutil.which("apt-get"):
        say("installing %s with apt-get" % ", ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *missing]):
            subprocess.run(args, check=False, env=env, stdout=subprocess.DEVNULL)
        missing = sorted({pkg for cmd, pkg in APT_DEPS.items() if shutil.which(cmd) is None})
    if missing:
        raise TestbedError("missing tools for the testbed: packages %s" % ", ".join(missing),
                           hint="apt-get install %s" % " ".join(missing))
    if "overlay" not in Path("/proc/filesystems").read_text():
        subprocess.run(["modprobe", "overlay"], check=False, stderr=subprocess.DEVNULL)
        if "overlay" not in Path("/proc/filesystems").read_text():
            raise TestbedError("this kernel has no overlayfs", hint="modprobe overlay")


# ---------------------------------------------------------------------------- apt sources

@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str


def read_apt_sources(root: Path = Path("/")) -> list[AptSource]:
    """The Debian entries of this machine's apt configuration (deb822 and one-line style)."""
    found: list[AptSource] = []
    folder = root / "etc/apt/sources.list.d"
    for path in sorted(folder.glob("*.sources")) if folder.is_dir() else []:
        found += parse_deb822(path.read_text(errors="replace"))
    for path in [root / "etc/apt/sources.list", *sorted(folder.glob("*.list"))]:
        if path.is_file():
            found += parse_one_line(path.read_text(errors="replace"))
    return [s for s in found if any(x.startswith(SUITE) for x in s.suites)]


def parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            sources.append(AptSource(uri, tuple(fields.get("suites", "").split()),
                                     tuple(fields.get("components", "main").split()),
                                     fields.get("signed-by", "")))
    return sources


def parse_one_line(text: str) -> list[AptSource]:
    sources = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        if words[1].startswith("["):  # options such as [arch=amd64 signed-by=...]
            while words and not words[1].endswith("]"):
                words.pop(1)
            words.pop(1)
        sources.append(AptSource(words[1], (words[2],), tuple(words[3:]) or ("main",), ""))
    return sources


def choose_mirror(sources: list[AptSource]) -> str:
    override = os.environ.get("MAINSAIL_TESTBED_MIRROR")
    if override:
        return override
    for source in sources:
        if SUITE in source.suites:
            return source.uri
    raise TestbedError("no Debian %s mirror found in this machine's apt configuration" % SUITE,
                       hint="set MAINSAIL_TESTBED_MIRROR to a Debian mirror URL")


def render_sources(sources: list[AptSource], mirror: str) -> str:
    """The hosts' own apt sources: the same Debian entries the machine uses."""
    if not sources or os.environ.get("MAINSAIL_TESTBED_MIRROR"):
        sources = [AptSource(mirror, (SUITE, SUITE + "-updates"), ("main",), "")]
    stanzas = []
    for s in sources:
        lines = ["Types: deb", "URIs: " + s.uri, "Suites: " + " ".join(s.suites),
                 "Components: " + " ".join(s.components)]
        lines.append("Signed-By: " + (s.signed_by or
                                      "/usr/share/keyrings/debian-archive-keyring.gpg"))
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


# ---------------------------------------------------------------------------- base image

def build_base(layout: Layout, say: Say) -> None:
    """debootstrap the shared read-only root filesystem once; a half-built one is never used."""
    if (layout.base / ".mainsail-complete").exists():
        return
    sources = read_apt_sources()
    mirror = choose_mirror(sources)
    tmp = layout.base.with_name(layout.base.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    say("building the Debian %s base image (debootstrap, about a minute)" % SUITE)
    started = time.monotonic()
    log = layout.cache / "debootstrap.log"
    with open(log, "w") as out:
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
             SUITE, str(tmp), mirror], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-8:])
        raise TestbedError("debootstrap failed (exit %d); see %s:\n%s" % (done.returncode, log, tail),
                           hint="check that the Debian mirror in your apt configuration is reachable")
    finish_base(tmp, sources, mirror)
    tmp.rename(layout.base)
    say("base image ready in %.0f s (%s)" % (time.monotonic() - started, du(layout.base)))


def finish_base(root: Path, sources: list[AptSource], mirror: str) -> None:
    # Host keys are per host, made when a host is created; none may be shared through the base.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # Like a container image: packages never start services on install. Deploys start them
    # once they are configured, so two hosts never race for the same port.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc/apt/sources.list").write_text("")
    (root / "etc/apt/sources.list.d/debian.sources").write_text(render_sources(sources, mirror))
    for conf in Path("/etc/apt/apt.conf.d").glob("*"):
        # Settings that say how to reach the mirror (validity checks, proxies) apply to hosts too.
        text = conf.read_text(errors="replace") if conf.is_file() else ""
        if "Acquire::" in text and "DEP-11" not in text:
            shutil.copy(conf, root / "etc/apt/apt.conf.d" / conf.name)
    subprocess.run(["chroot", str(root), "apt-get", "clean"], check=False)
    (root / ".mainsail-complete").write_text(BASE_RECIPE + "\n")


# ---------------------------------------------------------------------------- keys

def ensure_client_key(layout: Layout) -> Path:
    key = layout.client_key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(key.parent, 0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mainsail-testbed",
                        "-f", str(key)], check=True)
    return key


def ensure_host_key(host_dir: Path, name: str) -> Path:
    key = host_dir / "ssh_host_ed25519_key"
    if not key.exists():
        host_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + name,
                        "-f", str(key)], check=True)
    return key


def record_known_host(path: Path, address: str, public_key: str) -> None:
    """Pin the host's key before its first connection; replace an older line for the address."""
    kind, blob = public_key.split()[:2]
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(" ", 1)[0] != address]
    kept.append("%s %s %s" % (address, kind, blob))
    write_atomic(path, "\n".join(kept) + "\n", 0o644)


def write_atomic(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".%s.tmp%d" % (path.name, os.getpid()))
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- one host

def prepare_upper(layout: Layout, host: TestbedHost) -> None:
    """Write the host's own files into its writable layer; only while the host is stopped."""
    hdir = layout.host_dir(host.name)
    upper = hdir / "upper"
    for sub in ("upper", "work", "merged"):
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    key = ensure_host_key(hdir, host.name)
    etc = upper / "etc"
    (etc / "ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(key, etc / "ssh/ssh_host_ed25519_key")
    os.chmod(etc / "ssh/ssh_host_ed25519_key", 0o600)
    shutil.copy(str(key) + ".pub", etc / "ssh/ssh_host_ed25519_key.pub")
    (etc / "ssh/sshd_config.d/mainsail-testbed.conf").write_text(sshd_config(host.address))
    # A host's own names are written when it is created; after that they are its state, as
    # on a real machine (a deploy may well have changed /etc/hosts).
    resolv = Path("/etc/resolv.conf")
    first_boot = {"hostname": host.name + "\n",
                  "hosts": "127.0.0.1\tlocalhost\n%s\t%s\n" % (host.address, host.name),
                  "resolv.conf": resolv.read_text() if resolv.exists() else ""}
    for name, text in first_boot.items():
        if not (etc / name).exists():
            (etc / name).write_text(text)
    ssh_dir = upper / "root/.ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(upper / "root", 0o700)
    os.chmod(ssh_dir, 0o700)
    pub = Path(str(layout.client_key) + ".pub").read_text()
    (ssh_dir / "authorized_keys").write_text(pub)
    os.chmod(ssh_dir / "authorized_keys", 0o600)


def sshd_config(address: str) -> str:
    return "\n".join([
        "# Written by the Mainsail testbed; sshd keeps the first value it reads.",
        "ListenAddress %s" % address,
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "MaxSessions 64",
        "MaxStartups 64:30:128",
        "",
    ])


def add_loopback_address(address: str) -> None:
    # The hosts share the machine's network namespace; services such as Postfix refuse to bind
    # an address that no interface holds, so each host's address goes on lo as a /32.
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"],
                           capture_output=True, text=True).stdout
    if " %s/32 " % address not in shown:
        subprocess.run(["ip", "addr", "add", address + "/32", "dev", "lo"], check=True)


def remove_loopback_address(address: str) -> None:
    subprocess.run(["ip", "addr", "del", address + "/32", "dev", "lo"],
                   stderr=subprocess.DEVNULL, check=False)


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def running_pid(layout: Layout, name: str) -> int | None:
    """The outer PID of the host's init, if that very process (not a reused PID) still runs."""
    pidfile = layout.host_dir(name) / "init.pid"
    try:
        pid_text, start = pidfile.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if proc_start_time(pid) == start else None


def child_of(pid: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise TestbedError("the namespace of a testbed host did not start")


def start_host(layout: Layout, host: TestbedHost) -> None:
    hdir = layout.host_dir(host.name)
    prepare_upper(layout, host)
    add_loopback_address(host.address)
    init = Path(__file__).with_name("testbed_init.py")
    argv = ["unshare", "--pid", "--mount", "--uts", "--ipc", "--fork", "--propagation", "private",
            sys.executable, "-I", str(init), host.name, str(layout.base), str(hdir / "upper"),
            str(hdir / "work"), str(hdir / "merged")]
    with open(hdir / "console.log", "ab") as log:
        parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    pid = child_of(parent.pid)
    (hdir / "init.pid").write_text("%d %s\n" % (pid, proc_start_time(pid)))
    record_known_host(host.known_hosts, host.address,
                      (hdir / "ssh_host_ed25519_key.pub").read_text())
    wait_for_ssh(layout, host)


def wait_for_ssh(layout: Layout, host: TestbedHost, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ssh_answers(host.address):
            return
        if running_pid(layout, host.name) is None:
            break
        time.sleep(0.05)
    log = layout.host_dir(host.name) / "console.log"
    tail = "".join(log.read_text(errors="replace").splitlines(True)[-10:]) if log.exists() else ""
    raise TestbedError("testbed host %s did not answer on %s:22\n%s" % (host.name, host.address,
                                                                       tail),
                       hint="see %s" % log)


def ssh_answers(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=0.5) as sock:
            sock.settimeout(1.0)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def stop_host(layout: Layout, host: TestbedHost) -> bool:
    pid = running_pid(layout, host.name)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running_pid(layout, host.name) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid(layout, host.name) is not None:
        # Killing the namespace's PID 1 takes every process of the host with it.
        os.kill(pid, signal.SIGKILL)
        while running_pid(layout, host.name) is not None:
            time.sleep(0.05)
    wait_until_gone(layout.host_dir(host.name) / "merged")
    (layout.host_dir(host.name) / "init.pid").unlink(missing_ok=True)
    return True


def wait_until_gone(root: Path, timeout: float = STOP_TIMEOUT) -> None:
    """The namespace's other processes die with its PID 1, but not in the same instant: its
    layer may be deleted only once none of them is left."""
    prefix = str(root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(proc_root(pid).startswith(prefix) for pid in os.listdir("/proc")
                   if pid.isdigit()):
            return
        time.sleep(0.05)


def proc_root(pid: str) -> str:
    try:
        return os.readlink("/proc/%s/root" % pid)
    except OSError:
        return ""


# ---------------------------------------------------------------------------- commands

def up(layout: Layout, hosts: Iterable[TestbedHost], say: Say, clean: bool = False) -> None:
    check_prerequisites(say)
    build_base(layout, say)
    ensure_client_key(layout)
    for host in hosts:
        if clean:
            reset_layer(layout, host, say)
        if running_pid(layout, host.name) is not None:
            if ssh_answers(host.address):
                say("%-8s %-12s already up" % (host.name, host.address))
                continue
            stop_host(layout, host)  # up but sshd gone: restart the host
        elif ssh_answers(host.address):
            raise TestbedError("%s:22 already answers, but not from this testbed" % host.address,
                               where="host %s" % host.name,
                               hint="another checkout's testbed? run `inv testbed.down` there")
        started = time.monotonic()
        start_host(layout, host)
        say("%-8s %-12s up in %.2f s" % (host.name, host.address, time.monotonic() - started))


def down(layout: Layout, hosts: Iterable[TestbedHost], say: Say) -> None:
    for host in hosts:
        if stop_host(layout, host):
            say("%-8s stopped" % host.name)
        remove_loopback_address(host.address)
    left = mounts_under(layout.state)
    if left:
        raise TestbedError("mounts left under %s: %s" % (layout.state, ", ".join(left)))


def reset_layer(layout: Layout, host: TestbedHost, say: Say) -> None:
    """Forget everything a host's writable layer holds; its host key is kept."""
    stop_host(layout, host)
    hdir = layout.host_dir(host.name)
    for sub in ("upper", "work"):
        if (hdir / sub).exists():
            shutil.rmtree(hdir / sub)
    say("%-8s reset to the base image" % host.name)


def reset(layout: Layout, host: TestbedHost, say: Say) -> None:
    reset_layer(layout, host, say)
    up(layout, [host], say)


def mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(prefix):
            mounts.append(point)
    return mounts


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    state: str
    pid: int | None
    disk: str


def status(layout: Layout, hosts: Iterable[TestbedHost]) -> list[HostStatus]:
    rows = []
    for host in hosts:
        pid = running_pid(layout, host.name)
        hdir = layout.host_dir(host.name)
        if pid is None:
            state = "stopped" if hdir.exists() else "absent"
        else:
            state = "up" if ssh_answers(host.address) else "up, sshd not answering"
        rows.append(HostStatus(host.name, host.address, state, pid,
                               du(hdir / "upper") if (hdir / "upper").exists() else "-"))
    return rows


def du(path: Path) -> str:
    out = subprocess.run(["du", "-sh", "--one-file-system", str(path)], capture_output=True,
                         text=True).stdout
    return out.split()[0] if out else "?"


def find_host(hosts: Iterable[TestbedHost], name: str) -> TestbedHost:
    by_name = {h.name: h for h in hosts}
    if name not in by_name:
        import difflib
        close = difflib.get_close_matches(name, list(by_name), n=3)
        raise BadInput("no testbed host named %r" % name, where="inventory",
                       hint="known: %s" % ", ".join(close or sorted(by_name)))
    return by_name[name]

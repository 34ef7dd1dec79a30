"""The built-in testbed: isolated Debian hosts on this machine, reachable over real SSH.

Each host runs a Debian release (bookworm or trixie) whose root filesystem is built once with
debootstrap into a cache folder and shared read-only by every host of that release through
overlayfs; each host keeps its own writable layer. A host boots systemd as its PID 1 under
systemd-nspawn, sharing the machine's network: its sshd listens only on the host's own
loopback address. The light flavour (``testbed_init: none``) runs sshd alone in its own
namespaces, with a tiny Python PID 1, for benchmarks with many hosts.

Hosts are reached as ``deploy`` with key authentication and escalate with sudo; root cannot
log in over SSH. A host with ``testbed_sudo: password`` asks ``deploy`` for a sudo password:
``up`` makes one, sets it on the host and writes it, encrypted, as that host's
``become_password`` in ``host_vars/NAME/become.yml`` (vault password in ``.testbed/``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shlex
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

SUITES = ("bookworm", "trixie")
DEFAULT_SUITE = "bookworm"
INITS = ("systemd", "none")
SUDO_MODES = ("nopasswd", "password")
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo",
                 "procps")
# Units of a minimal Debian that a testbed host must not run: background apt and disk jobs
# (they would race deploys for the dpkg lock), and consoles nobody reads.
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
                "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer",
                "systemd-pstore.service", "getty@tty1.service", "console-getty.service",
                "systemd-timesyncd.service")
LOGIN_USER = "deploy"
# Bump when the base recipe changes so old caches are rebuilt rather than trusted.
BASE_RECIPE = "2"
APT_DEPS = {"debootstrap": "debootstrap", "unshare": "util-linux", "nsenter": "util-linux",
            "mount": "mount", "ssh-keygen": "openssh-client", "ip": "iproute2",
            "systemd-nspawn": "systemd-container", "openssl": "openssl"}
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
NSPAWN_LINGER = 2.0  # seconds systemd-nspawn may take to exit after the host's systemd did
VAULT_PASSWORD_FILE = "vault-password"
BECOME_VARS_FILE = "become.yml"

Say = Callable[[str], None]


class TestbedError(MainsailError):
    exit_code = 1


@dataclass(frozen=True)
class TestbedHost:
    name: str
    address: str
    known_hosts: Path
    suite: str = DEFAULT_SUITE
    init: str = "systemd"
    sudo: str = "nopasswd"
    # Where `up` writes this host's encrypted sudo password (only with sudo: password).
    host_vars: Path | None = None


@dataclass(frozen=True)
class Layout:
    """Where the testbed keeps things: a machine-wide cache and a per-project state folder."""

    cache: Path
    state: Path

    def base(self, suite: str = DEFAULT_SUITE) -> Path:
        return self.cache / ("rootfs-%s-%s" % (suite, BASE_RECIPE))

    @property
    def client_key(self) -> Path:
        return self.state / "id_ed25519"

    @property
    def vault_password(self) -> Path:
        return self.state / VAULT_PASSWORD_FILE

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


def host_from_vars(name: str, address: str, known_hosts: Path, host_vars: dict,
                   where: str, host_vars_dir: Path) -> TestbedHost:
    """A testbed host from its inventory entry: ``testbed_release``, ``testbed_init`` and
    ``testbed_sudo`` choose its Debian release, its init and whether sudo asks a password."""
    chosen = {}
    for var, allowed, default in (("testbed_release", SUITES, DEFAULT_SUITE),
                                  ("testbed_init", INITS, "systemd"),
                                  ("testbed_sudo", SUDO_MODES, "nopasswd")):
        value = str(host_vars.get(var, default))
        if value not in allowed:
            raise BadInput("%s: %s must be one of %s, got %r" % (name, var, ", ".join(allowed),
                                                                  value),
                           where=where, hint="e.g. %s: %s" % (var, allowed[0]))
        chosen[var] = value
    return TestbedHost(name, address, known_hosts, suite=chosen["testbed_release"],
                       init=chosen["testbed_init"], sudo=chosen["testbed_sudo"],
                       host_vars=host_vars_dir / name)


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


def machine_suite(root: Path = Path("/")) -> str:
    """This machine's Debian codename: its apt sources name it, a host's release replaces it."""
    try:
        for line in (root / "etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"') or DEFAULT_SUITE
    except OSError:
        pass
    return DEFAULT_SUITE


def read_apt_sources(root: Path = Path("/")) -> list[AptSource]:
    """The Debian entries of this machine's apt configuration (deb822 and one-line style)."""
    found: list[AptSource] = []
    folder = root / "etc/apt/sources.list.d"
    for path in sorted(folder.glob("*.sources")) if folder.is_dir() else []:
        found += parse_deb822(path.read_text(errors="replace"))
    for path in [root / "etc/apt/sources.list", *sorted(folder.glob("*.list"))]:
        if path.is_file():
            found += parse_one_line(path.read_text(errors="replace"))
    mine = machine_suite(root)
    return [s for s in found if any(x.startswith(mine) for x in s.suites)]


def for_suite(sources: list[AptSource], suite: str, machine: str) -> list[AptSource]:
    """The machine's Debian entries, each suite renamed for another release of the same
    mirrors (bookworm-updates -> trixie-updates)."""
    renamed = []
    for s in sources:
        suites = tuple(suite + x[len(machine):] if x.startswith(machine) else x
                       for x in s.suites)
        renamed.append(AptSource(s.uri, suites, s.components, s.signed_by))
    return renamed


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


def choose_mirror(sources: list[AptSource], suite: str) -> str:
    override = os.environ.get("MAINSAIL_TESTBED_MIRROR")
    if override:
        return override
    for source in sources:
        if suite in source.suites:
            return source.uri
    raise TestbedError("no Debian %s mirror found in this machine's apt configuration" % suite,
                       hint="set MAINSAIL_TESTBED_MIRROR to a Debian mirror URL")


def render_sources(sources: list[AptSource], mirror: str, suite: str = DEFAULT_SUITE) -> str:
    """The hosts' own apt sources: the same Debian entries the machine uses."""
    if not sources or os.environ.get("MAINSAIL_TESTBED_MIRROR"):
        sources = [AptSource(mirror, (suite, suite + "-updates"), ("main",), "")]
    stanzas = []
    for s in sources:
        lines = ["Types: deb", "URIs: " + s.uri, "Suites: " + " ".join(s.suites),
                 "Components: " + " ".join(s.components)]
        lines.append("Signed-By: " + (s.signed_by or
                                      "/usr/share/keyrings/debian-archive-keyring.gpg"))
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


# ---------------------------------------------------------------------------- base image

def build_base(layout: Layout, say: Say, suite: str = DEFAULT_SUITE) -> None:
    """debootstrap one release's shared read-only root filesystem once; a half-built one is
    never used."""
    base = layout.base(suite)
    if (base / ".mainsail-complete").exists():
        return
    sources = for_suite(read_apt_sources(), suite, machine_suite())
    mirror = choose_mirror(sources, suite)
    tmp = base.with_name(base.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    say("building the Debian %s base image (debootstrap, a minute or two)" % suite)
    started = time.monotonic()
    log = layout.cache / ("debootstrap-%s.log" % suite)
    with open(log, "w") as out:
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
             suite, str(tmp), mirror], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-8:])
        raise TestbedError("debootstrap failed (exit %d); see %s:\n%s" % (done.returncode, log, tail),
                           hint="check that the Debian mirror in your apt configuration is reachable")
    finish_base(tmp, sources, mirror, suite)
    tmp.rename(base)
    say("%s base image ready in %.0f s (%s)" % (suite, time.monotonic() - started, du(base)))


def finish_base(root: Path, sources: list[AptSource], mirror: str,
                suite: str = DEFAULT_SUITE) -> None:
    # Host keys are per host, made when a host is created; none may be shared through the base.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # Like a container image: packages never start services on install. Deploys start them
    # once they are configured, so two hosts never race for the same port.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc/apt/sources.list").write_text("")
    (root / "etc/apt/sources.list.d/debian.sources").write_text(
        render_sources(sources, mirror, suite))
    for conf in Path("/etc/apt/apt.conf.d").glob("*"):
        # Settings that say how to reach the mirror (validity checks, proxies) apply to hosts too.
        text = conf.read_text(errors="replace") if conf.is_file() else ""
        if "Acquire::" in text and "DEP-11" not in text:
            shutil.copy(conf, root / "etc/apt/apt.conf.d" / conf.name)
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to("/dev/null")
    # The login user: a home, no password (\"*\" is "none", not "locked": sshd refuses locked
    # accounts), sudo for everything; per-host sudo rules are written when a host is created.
    subprocess.run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash",
                    "--user-group", LOGIN_USER], check=True)
    subprocess.run(["chroot", str(root), "usermod", "--password", "*", LOGIN_USER], check=True)
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

def prepare_upper(layout: Layout, host: TestbedHost, sudo_password: str | None = None) -> None:
    """Write the host's own files into its writable layer; only while the host is stopped."""
    hdir = layout.host_dir(host.name)
    upper = hdir / "upper"
    base = layout.base(host.suite)
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
        if not (etc / name).exists() and not (etc / name).is_symlink():
            (etc / name).write_text(text)
    uid, gid, home = login_account(base)
    ssh_dir = upper / home.lstrip("/") / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    if not (ssh_dir / "authorized_keys").exists():
        for folder, mode in ((ssh_dir.parent, 0o750), (ssh_dir, 0o700)):
            os.chown(folder, uid, gid)
            os.chmod(folder, mode)
    # Like a cloud image's first boot: the key goes in once; then the file is the host's.
    keys = ssh_dir / "authorized_keys"
    if not keys.exists() and not keys.is_symlink():
        keys.write_text(Path(str(layout.client_key) + ".pub").read_text())
        os.chown(keys, uid, gid)
        os.chmod(keys, 0o600)
    # Under systemd-nspawn on this machine's hybrid cgroups, a stopped unit's cgroup is not
    # always reported empty (seen with Apache on trixie): systemd would wait out the default
    # 90 s at every shutdown. The testbed's hosts give a stop 5 s.
    (etc / "systemd/system.conf.d").mkdir(parents=True, exist_ok=True)
    (etc / "systemd/system.conf.d/mainsail-testbed.conf").write_text(
        "# Written by the Mainsail testbed.\n[Manager]\nDefaultTimeoutStopSec=5s\n")
    (etc / "sudoers.d").mkdir(exist_ok=True)
    write_atomic(etc / "sudoers.d/mainsail-testbed", sudoers(host.sudo), 0o440)
    if sudo_password is not None:
        set_password_hash(base, upper, LOGIN_USER, hash_password(sudo_password))


def login_account(base: Path) -> tuple[int, int, str]:
    """uid, gid and home of the login user, as the base image's useradd made them."""
    for line in (base / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == LOGIN_USER:
            return int(fields[2]), int(fields[3]), fields[5]
    raise TestbedError("the base image %s has no user %s" % (base, LOGIN_USER),
                       hint="rebuild it: remove %s and run `inv testbed.up`" % base)


def sudoers(mode: str) -> str:
    rule = "ALL=(ALL:ALL) ALL" if mode == "password" else "ALL=(ALL:ALL) NOPASSWD: ALL"
    return ("# Written by the Mainsail testbed when the host was created.\n"
            "Defaults:%s lecture=never\n%s %s\n" % (LOGIN_USER, LOGIN_USER, rule))


def hash_password(password: str) -> str:
    """A SHA-512 crypt hash; the password goes to openssl on stdin, never in an argv."""
    done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password + "\n",
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def set_password_hash(base: Path, upper: Path, user: str, hashed: str) -> None:
    """Replace one user's hash in the host's own /etc/shadow (copied up from the base)."""
    mine = upper / "etc/shadow"
    text = (mine if mine.exists() else base / "etc/shadow").read_text()
    lines = []
    for line in text.splitlines():
        fields = line.split(":")
        if fields[0] == user:
            fields[1] = hashed
        lines.append(":".join(fields))
    write_atomic(mine, "\n".join(lines) + "\n", 0o640)
    shadow_gid = next((int(l.split(":")[2]) for l in (base / "etc/group").read_text().splitlines()
                       if l.startswith("shadow:")), 0)
    os.chown(mine, 0, shadow_gid)


def sshd_config(address: str) -> str:
    return "\n".join([
        "# Written by the Mainsail testbed; sshd keeps the first value it reads.",
        "ListenAddress %s" % address,
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        # key logins only: any user whose authorized_keys holds the client's key may log in
        # (a task's remote_user, a role's own account); root only so, and root has no keys
        # unless a deploy gives it some (Debian's own default)
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "MaxSessions 64",
        "MaxStartups 64:30:128",
        "",
    ])


def ensure_sudo_password(layout: Layout, host: TestbedHost) -> str | None:
    """The host's sudo password: made once, kept in its encrypted vars file (read back with
    the testbed's vault password), so the inventory and the host always agree."""
    if host.sudo != "password" or host.host_vars is None:
        return None
    from . import vault
    key = layout.vault_password
    path = host.host_vars / BECOME_VARS_FILE
    if not key.exists():
        # A vars file sealed with a vault password that is gone can never be read: replace it.
        path.unlink(missing_ok=True)
        layout.state.mkdir(parents=True, exist_ok=True)
        write_atomic(key, secrets.token_urlsafe(24) + "\n", 0o600)
    password = key.read_text().strip().encode()
    if path.exists():
        import yaml
        data = yaml.safe_load(vault.decrypt(path.read_text(), password, str(path)).decode())
        return str(data["become_password"])
    chosen = secrets.token_urlsafe(18)
    text = ("# The testbed's sudo password for %s on this host, made by `inv testbed.up`.\n"
            "become_password: %s\n" % (LOGIN_USER, chosen))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, vault.encrypt(text.encode(), password), 0o600)
    return chosen


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
    """The outer PID of the host's init (systemd-nspawn, or the light init), if that very
    process (not a reused PID) still runs."""
    pidfile = layout.host_dir(name) / "init.pid"
    try:
        pid_text, start = pidfile.read_text().split()[:2]
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


# systemd-nspawn runs in a mount namespace of its own, where the host's overlay is mounted:
# the mount vanishes with it. --register=no and --keep-unit: this machine has no systemd of
# its own to register with. The host shares the machine's network (no --private-network).
NSPAWN_SCRIPT = ('mount -t overlay overlay -o "$1" "$2" && exec systemd-nspawn --quiet '
                 '--register=no --keep-unit --boot --directory="$2" --machine="$3" '
                 '--link-journal=no --resolv-conf=off --timezone=off --console=pipe')


def launch_host(layout: Layout, host: TestbedHost, sudo_password: str | None = None) -> None:
    """Start a host's init; :func:`settle_host` waits for it."""
    hdir = layout.host_dir(host.name)
    prepare_upper(layout, host, sudo_password)
    add_loopback_address(host.address)
    base = layout.base(host.suite)
    log = open(hdir / "console.log", "ab")
    if host.init == "systemd":
        Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
        options = "lowerdir=%s,upperdir=%s,workdir=%s" % (base, hdir / "upper", hdir / "work")
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", NSPAWN_SCRIPT,
                "sh", options, str(hdir / "merged"), host.name]
        with log:
            # unshare and sh exec in place: the PID is systemd-nspawn's.
            pid = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True).pid
        time.sleep(0.05)
    else:
        init = Path(__file__).with_name("testbed_init.py")
        argv = ["unshare", "--pid", "--mount", "--uts", "--ipc", "--fork", "--propagation",
                "private", sys.executable, "-I", str(init), host.name, str(base),
                str(hdir / "upper"), str(hdir / "work"), str(hdir / "merged")]
        with log:
            parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        pid = child_of(parent.pid)
    (hdir / "init.pid").write_text("%d %s %s\n" % (pid, proc_start_time(pid), host.init))
    record_known_host(host.known_hosts, host.address,
                      (hdir / "ssh_host_ed25519_key.pub").read_text())


def settle_host(layout: Layout, host: TestbedHost) -> None:
    """Wait until a started host answers SSH and, under systemd, has finished booting."""
    wait_for_ssh(layout, host)
    if host.init == "systemd":
        wait_for_boot(layout, host)


def host_init_pid(layout: Layout, name: str) -> int | None:
    """The PID (on this machine) of the host's own PID 1: systemd, or the light init."""
    pid = running_pid(layout, name)
    if pid is None:
        return None
    kind = init_kind(layout, name)
    return child_of(pid, timeout=2.0) if kind == "systemd" else pid


def init_kind(layout: Layout, name: str) -> str:
    try:
        words = (layout.host_dir(name) / "init.pid").read_text().split()
    except OSError:
        return "systemd"
    return words[2] if len(words) > 2 else "none"


def host_exec(layout: Layout, name: str, argv: list[str], timeout: float = 60.0,
              check: bool = False) -> subprocess.CompletedProcess:
    """Run a command as root inside a running host (its mount, PID, UTS and IPC
    namespaces and its root), without SSH: for the testbed's own upkeep and for tests."""
    pid = host_init_pid(layout, name)
    if pid is None:
        raise TestbedError("testbed host %s is not running" % name, hint="inv testbed.up")
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-p", "-r", "-w",
                           "--", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                           "LANG=C.UTF-8", *argv],
                          capture_output=True, text=True, timeout=timeout, check=check)


def wait_for_boot(layout: Layout, host: TestbedHost, timeout: float = START_TIMEOUT) -> str:
    """Wait until systemd has started everything it will ("running", or "degraded" when a
    unit failed, which is the host's business, not the testbed's)."""
    done = host_exec(layout, host.name, ["timeout", str(int(timeout)), "systemctl",
                                         "is-system-running", "--wait"], timeout=timeout + 5)
    state = done.stdout.strip()
    if state not in ("running", "degraded"):
        raise TestbedError("testbed host %s did not finish booting: %s" % (host.name,
                                                                          state or done.stderr),
                           hint="see %s" % (layout.host_dir(host.name) / "console.log"))
    return state


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
    """Shut a host down: systemd stops its services (SIGTERM to systemd-nspawn is a
    poweroff), the light init signals its namespace; whatever is left after the grace
    period is killed."""
    pid = running_pid(layout, host.name)
    if pid is None:
        return False
    inner = inner_init(layout, host.name, pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    inner_gone_at = None
    while running_pid(layout, host.name) is not None and time.monotonic() < deadline:
        if inner is not None and inner_gone_at is None and proc_start_time(inner[0]) != inner[1]:
            inner_gone_at = time.monotonic()
        # The host's own systemd has finished its shutdown; systemd-nspawn sometimes lingers
        # after it (seen on trixie with Apache): nothing of the host is left to wait for.
        if inner_gone_at is not None and time.monotonic() - inner_gone_at > NSPAWN_LINGER:
            break
        time.sleep(0.05)
    if running_pid(layout, host.name) is not None:
        os.kill(pid, signal.SIGKILL)
        while running_pid(layout, host.name) is not None:
            time.sleep(0.05)
    wait_until_gone(layout.host_dir(host.name) / "merged")
    (layout.host_dir(host.name) / "init.pid").unlink(missing_ok=True)
    return True


def inner_init(layout: Layout, name: str, pid: int) -> tuple[int, str] | None:
    """A systemd host's own PID 1 (PID and start time, on this machine), to tell when it
    has finished; None for a light host."""
    if init_kind(layout, name) != "systemd":
        return None
    try:
        inner = child_of(pid, timeout=0.5)
    except TestbedError:
        return None
    start = proc_start_time(inner)
    return (inner, start) if start else None


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
    hosts = list(hosts)
    check_prerequisites(say)
    build_bases(layout, sorted({h.suite for h in hosts}), say)
    ensure_client_key(layout)
    starting = []
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
        starting.append(host)
    # Hosts boot side by side; each is reported once it answers.
    started = time.monotonic()
    for host in starting:
        launch_host(layout, host, ensure_sudo_password(layout, host))
    for host in starting:
        settle_host(layout, host)
        say("%-8s %-12s up in %.2f s (%s, %s)" % (host.name, host.address,
                                                 time.monotonic() - started, host.suite,
                                                 "systemd" if host.init == "systemd"
                                                 else "no init"))


def build_bases(layout: Layout, suites: list[str], say: Say) -> None:
    """Build the missing base images, side by side (debootstrap mostly waits on the mirror)."""
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(suites))) as pool:
        for future in [pool.submit(build_base, layout, say, suite) for suite in suites]:
            future.result()


def reboot(layout: Layout, host: TestbedHost, say: Say) -> float:
    """A clean reboot: systemd stops every service, the host boots again with its state."""
    started = time.monotonic()
    if running_pid(layout, host.name) is None:
        raise TestbedError("testbed host %s is not running" % host.name, hint="inv testbed.up")
    stop_host(layout, host)
    launch_host(layout, host, ensure_sudo_password(layout, host))
    settle_host(layout, host)
    took = time.monotonic() - started
    say("%-8s rebooted in %.2f s" % (host.name, took))
    return took


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
    release: str = DEFAULT_SUITE
    init: str = "systemd"


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
                               du(hdir / "upper") if (hdir / "upper").exists() else "-",
                               host.suite, host.init))
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

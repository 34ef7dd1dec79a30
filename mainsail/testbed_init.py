"""PID 1 of one testbed host.

Run by ``unshare --pid --mount --uts --ipc --fork`` with the controller's python. It builds the
host's filesystem inside its private mount namespace (so every mount vanishes with the host),
chroots into it, starts sshd and then reaps orphans until told to stop. Standard library only;
everything is imported before the chroot because the controller's stdlib is not inside it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

GRACE_SECONDS = 5.0


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def make_dev(root: str) -> None:
    """A minimal /dev of our own: the host must not see the machine's devices."""
    dev = os.path.join(root, "dev")
    mount("-t", "tmpfs", "-o", "mode=755,nosuid,size=1m", "tmpfs", dev)
    nodes = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
             "urandom": (1, 9), "tty": (5, 0)}
    for name, (major, minor) in nodes.items():
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for sub in ("pts", "shm"):
        os.mkdir(os.path.join(dev, sub))
    mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts",
          os.path.join(dev, "pts"))
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", os.path.join(dev, "shm"))
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    os.symlink("/proc/self/fd", os.path.join(dev, "fd"))
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink("/proc/self/fd/%d" % i, os.path.join(dev, name))


def make_root(lower: str, upper: str, work: str, merged: str) -> None:
    mount("-t", "overlay", "overlay", "-o",
          "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), merged)
    mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", os.path.join(merged, "proc"))
    mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", os.path.join(merged, "sys"))
    make_dev(merged)
    # A fresh /run per boot, as a real host has: stale pid files must not survive a restart.
    run = os.path.join(merged, "run")
    mount("-t", "tmpfs", "-o", "mode=755,nosuid,nodev,size=64m", "tmpfs", run)
    os.mkdir(os.path.join(run, "sshd"), 0o755)
    os.mkdir(os.path.join(run, "lock"))
    os.chmod(os.path.join(run, "lock"), 0o1777)
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=512m", "tmpfs",
          os.path.join(merged, "tmp"))


def start_sshd() -> int:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        os.execve("/usr/sbin/sshd", ["/usr/sbin/sshd", "-D", "-e"], env)
    return pid


def stop_everything(signum: int, frame: object) -> None:
    """As PID 1, signal the whole namespace, give it a grace period, then kill what is left."""
    try:
        os.kill(-1, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.05)
        except ChildProcessError:
            os._exit(0)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(0)


def reap_forever() -> None:
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)
        except InterruptedError:
            pass


def main(argv: list[str]) -> None:
    name, lower, upper, work, merged = argv
    make_root(lower, upper, work, merged)
    socket.sethostname(name)
    os.chroot(merged)
    os.chdir("/")
    signal.signal(signal.SIGTERM, stop_everything)
    signal.signal(signal.SIGINT, stop_everything)
    start_sshd()
    print("testbed host %s: sshd started" % name, flush=True)
    reap_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

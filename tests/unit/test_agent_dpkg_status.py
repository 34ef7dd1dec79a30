"""apt reads dpkg's status file instead of running dpkg-query: the same answer, or dpkg-query's
own where the file alone cannot tell. Checked against the real dpkg-query (--admindir) when
this machine has one."""
from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from mainsail.agent.ops import apt
from test_agent_support import calls, fake_command, make_bindir, run_op

CURL = "Package: curl\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n" \
       "Version: 7.88.1-10+deb12u5\nDepends: libc6 (>= 2.34)\nDescription: a tool\n" \
       " with a long description\n .\n Package: not-a-stanza\n Status: install ok installed\n"
NGINX = "Package: nginx\nStatus: deinstall ok config-files\nArchitecture: amd64\n" \
        "Version: 1.22.1-9\nConfig-Version: 1.22.1-9\nConffiles:\n /etc/nginx/nginx.conf 0f1e\n"
LIBC_AMD64 = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n" \
             "Multi-Arch: same\nVersion: 2.36-9\n"
LIBC_I386 = "Package: libc6\nStatus: deinstall ok config-files\nArchitecture: i386\n" \
            "Multi-Arch: same\nVersion: 2.36-8\n"


def status(*stanzas: str) -> str:
    return "".join(s + "\n" for s in stanzas)


def test_installed_config_files_and_missing() -> None:
    table = apt.parse_dpkg_status(status(CURL, NGINX), ["curl", "nginx", "rsync"])
    assert table == {"curl": ("installed", "7.88.1-10+deb12u5"),
                     "nginx": ("config-files", "1.22.1-9")}
    assert apt.is_installed(table, "curl=7.88.1-10+deb12u5") and not apt.is_installed(table,
                                                                                     "nginx")


def test_continuation_lines_are_not_stanzas_or_fields() -> None:
    # the description's folded 'Package: not-a-stanza' is part of curl's stanza
    assert apt.parse_dpkg_status(status(CURL), ["not-a-stanza"]) == {}
    assert apt.parse_dpkg_status(status(CURL), ["curl"]) == {
        "curl": ("installed", "7.88.1-10+deb12u5")}


def test_missing_status_is_not_installed() -> None:
    text = status("Package: tool\nVersion: 1.0\nArchitecture: amd64\n")
    assert apt.parse_dpkg_status(text, ["tool"]) == {"tool": ("not-installed", "")}


def test_multiple_architectures_installed_wins_in_architecture_order() -> None:
    for order in ((LIBC_AMD64, LIBC_I386), (LIBC_I386, LIBC_AMD64)):
        assert apt.parse_dpkg_status(status(*order), ["libc6"]) == {
            "libc6": ("installed", "2.36-9")}
    # none installed: dpkg-query lists amd64 before i386, and the first one counts
    gone = LIBC_AMD64.replace("install ok installed", "purge ok not-installed")
    assert apt.parse_dpkg_status(status(LIBC_I386, gone), ["libc6"]) == {
        "libc6": ("not-installed", "2.36-9")}


@pytest.mark.parametrize("text,names", [
    (status(CURL), ["curl*"]),                    # a pattern
    (status(CURL), ["Curl"]),                     # dpkg-query lowercases
    (status(CURL), ["lib_x"]),
    (status(CURL), []),                           # dpkg-query would list everything
    (status(CURL.replace("Package: curl", "Package: Curl")), ["curl"]),
    (status(CURL.replace("Package: curl", "Package: curl ")), ["curl"]),
    (status(CURL.replace("Package: curl", "Package: curl:amd64")), ["curl"]),
    (status(CURL)[:-2], ["curl"]),                # no final newline
    (status(CURL.replace("ok installed", "ok half-installed")), ["curl"]),
    (status(CURL.replace("ok installed", "ok half-configured")), ["curl"]),
    (status(CURL.replace("ok installed", "ok triggers-pending")
            + "Triggers-Pending: ldconfig\n"), ["curl"]),
    (status(CURL.replace("ok installed", "ok bogus")), ["curl"]),
    (status(CURL + "Triggers-Awaited: man-db\n"), ["curl"]),
    (status(CURL.replace("Version: 7.88.1-10+deb12u5", "Version: 0:7.88")), ["curl"]),
    (status(CURL.replace("Version: 7.88.1-10+deb12u5\n", "")), ["curl"]),
    (status(CURL.replace("Version: 7.88.1-10+deb12u5", "Version:\n 7.88")), ["curl"]),
    (status(CURL + "Status: install ok installed\n"), ["curl"]),
    (status(CURL + "Config-Version: 7.0\n"), ["curl"]),
    (status(CURL + "Multi-Arch: same\n").replace("amd64", "all"), ["curl"]),
    (status(LIBC_AMD64, LIBC_I386.replace("Multi-Arch: same\n", "")), ["libc6"]),
    (status(LIBC_AMD64, LIBC_AMD64), ["libc6"]),
    (status("Architecture: amd64\nPackage: curl\nStatus: install ok installed\n"
            "Version: 1\n"), ["curl"]),             # stanza not as dpkg writes it
    (status("package: curl\nstatus: install ok installed\nversion: 1\n"), ["curl"]),
])
def test_what_the_file_cannot_tell_goes_to_dpkg_query(text: str, names: List[str]) -> None:
    assert apt.parse_dpkg_status(text, names) is None


def test_other_stanzas_are_not_checked() -> None:
    # a stanza dpkg writes differently (field case) for another package is passed over
    text = status(CURL, "Package: other\nstatus: install ok installed\nVersion: 1\n")
    assert apt.parse_dpkg_status(text, ["curl"]) == {"curl": ("installed",
                                                              "7.88.1-10+deb12u5")}


def admindir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "dpkg"
    (folder / "updates").mkdir(parents=True, exist_ok=True)
    (folder / "status").write_text(text)
    return folder


def test_reading_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = admindir(tmp_path, status(CURL))
    assert apt.read_dpkg_status(["curl"], str(folder)) == {
        "curl": ("installed", "7.88.1-10+deb12u5")}
    (folder / "updates" / "tmp.i").write_text("")
    assert apt.read_dpkg_status(["curl"], str(folder)) is not None
    # a journalled change not yet in the status file: dpkg-query applies it
    (folder / "updates" / "0000").write_text("Package: curl\n")
    assert apt.read_dpkg_status(["curl"], str(folder)) is None
    (folder / "updates" / "0000").unlink()
    monkeypatch.setenv("DPKG_ADMINDIR", str(folder))
    assert apt.read_dpkg_status(["curl"], str(folder)) is None
    monkeypatch.delenv("DPKG_ADMINDIR")
    monkeypatch.setenv("DPKG_ROOT", "/srv/chroot")
    assert apt.read_dpkg_status(["curl"], str(folder)) is None
    monkeypatch.delenv("DPKG_ROOT")
    assert apt.read_dpkg_status(["curl"], str(tmp_path / "none")) is None


def test_the_step_reads_the_file_and_asks_dpkg_query_only_when_it_must(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "dpkg-query", "exit 1")
    fake_command(bindir, "apt-get")
    folder = admindir(tmp_path, status(CURL, NGINX))
    monkeypatch.setattr(apt, "DPKG_ADMINDIR", str(folder))
    assert run_op("apt", {"name": ["curl"]}).status == "ok"
    out = run_op("apt", {"name": ["nginx"], "state": "absent", "purge": True}, check=True)
    assert out.status == "changed" and out.msg == "purge nginx"
    assert calls(bindir) == []
    # a half-configured package: dpkg-query's answer (here: nothing installed)
    (folder / "status").write_text(status(CURL.replace("ok installed", "ok half-configured")))
    out = run_op("apt", {"name": ["curl"]})
    assert out.status == "changed"
    assert calls(bindir)[0].startswith("dpkg-query -W")
    assert calls(bindir)[-1].startswith("apt-get install") and calls(bindir)[-1].endswith(" curl")


# ---- against dpkg-query itself ------------------------------------------------------

DPKG_QUERY = shutil.which("dpkg-query", path="/usr/bin:/bin")
needs_dpkg = pytest.mark.skipif(DPKG_QUERY is None, reason="no dpkg-query on this machine")


def decision(table: apt.Installed, name: str) -> Tuple[object, ...]:
    """What the apt step makes of an entry: installed at a version, config files left, or
    neither (the version of a package not installed is never used)."""
    word, version = table.get(name, ("", ""))
    return (word, version) if word == "installed" else (word == "config-files",)


def dpkg_query(folder: Path, names: List[str]) -> Optional[apt.Installed]:
    done = subprocess.run([str(DPKG_QUERY), "--admindir=%s" % folder, "-W", "-f",
                           "${Package}\\t${Status}\\t${Version}\\n", "--"] + names,
                          capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/bin"})
    return apt.parse_dpkg_query(done.stdout) if done.returncode in (0, 1) else None


def stanza(name: str, arch: str, word: str, multiarch: str, version: str,
           extra: str = "") -> str:
    text = "Package: %s\n" % name
    if word:
        want = "install" if word == "installed" else random.choice(("deinstall", "purge",
                                                                     "install", "hold"))
        text += "Status: %s ok %s\n" % (want, word)
    text += "Priority: optional\nMaintainer: M <m@example.org>\n"
    if arch:
        text += "Architecture: %s\n" % arch
    if multiarch:
        text += "Multi-Arch: %s\n" % multiarch
    if version:
        text += "Version: %s\n" % version
    if word == "config-files" and random.random() < 0.5:
        text += "Config-Version: %s\n" % version
    return text + extra + "Description: d\n more\n"


@needs_dpkg
def test_same_answer_as_dpkg_query_on_generated_databases(tmp_path: Path) -> None:
    random.seed(14)
    words = ["installed"] * 3 + ["config-files"] * 2 + ["not-installed"] * 2 + [
        "", "half-installed", "unpacked"]
    archs = ["amd64", "i386", "arm64", "all", ""]
    decided = several = 0
    for round_ in range(300):
        names = random.sample(["alpha", "beta", "gamma-1.0", "delta+x", "nothere"],
                              random.randint(1, 5))
        # only the names asked for vary: a database dpkg refuses for another package's
        # stanza is not told apart by the file read (it checks the stanzas it reads)
        stanzas = [stanza("filler", "amd64", "installed", "", "1.0")]
        for name in set(names) - {"nothere"}:
            count = random.choice((0, 1, 1, 1, 1, 2, 2, 3))
            for arch in random.sample(archs[:3] if count > 1 else archs, count):
                stanzas.append(stanza(name, arch, random.choice(words),
                                      random.choice(("same",) * 4 + ("foreign", "")),
                                      random.choice(("1.0-1", "2:1.0", "1.0", "1.0", ""))))
        random.shuffle(stanzas)
        text = status(*stanzas)
        folder = admindir(tmp_path / str(round_), text)
        ours = apt.parse_dpkg_status(text, names)
        if ours is None:
            continue
        theirs = dpkg_query(folder, names)
        assert theirs is not None, "dpkg-query refused a database the file read took:\n" + text
        for name in names:
            assert decision(ours, name) == decision(theirs, name), (name, text)
        decided += 1
        several += any(text.count("Package: %s\n" % n) > 1 for n in names)
    # many generated databases are read without dpkg-query, some with several architectures
    assert decided > 60 and several > 10, (decided, several)


@needs_dpkg
@pytest.mark.parametrize("order", list(itertools.permutations(("amd64", "i386", "arm64"))))
def test_architecture_order_as_dpkg_query(tmp_path: Path, order: Tuple[str, ...]) -> None:
    # none installed: the first architecture by name (amd64) decides whether config files are
    # left, whatever the order in the file
    for first, others, left in (("config-files", "not-installed", True),
                                ("not-installed", "config-files", False)):
        text = status(*(stanza("lib", a, first if a == "amd64" else others, "same",
                               "1.%d" % i) for i, a in enumerate(order)))
        ours = apt.parse_dpkg_status(text, ["lib"])
        theirs = dpkg_query(admindir(tmp_path / first, text), ["lib"])
        assert ours is not None and theirs is not None
        assert decision(ours, "lib") == decision(theirs, "lib") == (left,)


@needs_dpkg
@pytest.mark.skipif(not os.path.isfile("/var/lib/dpkg/status"), reason="no dpkg database")
def test_same_answer_as_dpkg_query_on_this_machine() -> None:
    listed = subprocess.run([str(DPKG_QUERY), "-W", "-f", "${Package}\\n"],
                            capture_output=True, text=True).stdout.split()
    names = sorted(set(listed))[::7][:60] + ["no-such-package-here"]
    ours = apt.read_dpkg_status(names, "/var/lib/dpkg")
    if ours is None:
        pytest.skip("this machine's dpkg database is mid-change or not read directly")
    theirs = dpkg_query(Path("/var/lib/dpkg"), names)
    assert theirs is not None
    assert [decision(ours, n) for n in names] == [decision(theirs, n) for n in names]

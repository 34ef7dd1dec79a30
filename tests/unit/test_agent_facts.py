"""Facts: read from /proc, /sys and /etc without starting a process, and named as Ansible
names them."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mainsail.agent import facts

IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
"""
ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
"""
IPV6_ROUTE = (
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n")
CPUINFO = "".join(f"processor\t: {i}\nmodel name\t: Xeon\nphysical id\t: {i // 4}\n"
                  f"siblings\t: 4\ncpu cores\t: 2\n\n" for i in range(8))
MOUNTS = """\
proc /proc proc rw,relatime 0 0
/dev/vda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw 0 0
server:/export /mnt/my\\040share nfs4 rw 0 0
"""
MEMINFO = """\
MemTotal:        2048000 kB
MemFree:         1024000 kB
MemAvailable:    1536000 kB
Buffers:           10240 kB
Cached:           102400 kB
SwapTotal:        512000 kB
SwapFree:         512000 kB
"""


def test_ipv6_addresses_per_interface_with_scope() -> None:
    assert facts.parse_if_inet6(IF_INET6) == {
        "lo": [{"address": "::1", "prefix": "128", "scope": "host"}],
        "eth0": [{"address": "fd00::2", "prefix": "64", "scope": "global"},
                 {"address": "fe80::fc:ff:fe00:1", "prefix": "64", "scope": "link"}]}


def test_default_routes() -> None:
    assert facts.parse_route(ROUTE) == {"interface": "eth0", "gateway": "192.0.2.1"}
    assert facts.parse_route(ROUTE.splitlines()[0]) == {}
    assert facts.parse_ipv6_route(IPV6_ROUTE) == {"interface": "eth0", "gateway": "fd00::1"}


def test_an_interface_with_a_bridge_folder_in_sys_is_a_bridge(tmp_path: Path) -> None:
    (tmp_path / "lo" / "bridge").mkdir(parents=True)
    assert facts.interfaces(str(tmp_path))["lo"]["type"] == "bridge"
    assert facts.interfaces(str(tmp_path / "none"))["lo"]["type"] == "loopback"


def test_the_loopback_interface_of_this_machine_has_its_address() -> None:
    lo = facts.interfaces()["lo"]
    assert (lo["ipv4"]["address"], lo["ipv4"]["prefix"], lo["ipv4"]["netmask"]) == \
        ("127.0.0.1", "8", "255.0.0.0")
    assert lo["active"] is True and lo["type"] == "loopback" and lo["mtu"] > 0
    assert "macaddress" not in lo  # a loopback has none


def test_cpuinfo_counts_sockets_cores_and_threads() -> None:
    assert facts.parse_cpuinfo(CPUINFO, 8) == {"count": 2, "cores": 2, "threads_per_core": 2,
                                                "vcpus": 8, "models": ["Xeon"] * 8}
    assert facts.parse_cpuinfo("", 3)["vcpus"] == 3


def test_meminfo_in_megabytes() -> None:
    assert facts.parse_meminfo(MEMINFO) == {
        "total_mb": 2000, "free_mb": 1000, "available_mb": 1500, "buffers_mb": 10,
        "cached_mb": 100, "swap_total_mb": 500, "swap_free_mb": 500}


def test_mounts_keep_devices_and_shares_and_size_local_ones() -> None:
    mounts = facts.parse_mounts(MOUNTS)
    assert [(m["mount"], m["device"], m["fstype"]) for m in mounts] == [
        ("/", "/dev/vda1", "ext4"), ("/mnt/my share", "server:/export", "nfs4")]
    local = facts.mount_sizes(mounts[0])
    st = os.statvfs("/")
    assert local["size_total"] == st.f_frsize * st.f_blocks and local["size_available"] > 0
    assert "size_total" not in facts.mount_sizes(mounts[1])  # a network share is not asked


def test_lsb_release_and_resolv_conf() -> None:
    assert facts.parse_lsb_release('DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=24.04\n'
                                   'DISTRIB_CODENAME=noble\n') == \
        {"id": "Ubuntu", "release": "24.04", "codename": "noble", "major_release": "24"}
    assert facts.parse_resolv_conf("nameserver 1.1.1.1 # x\nsearch a b\noptions ndots:2\n") \
        == {"nameservers": ["1.1.1.1"], "search": ["a", "b"], "options": {"ndots": "2"}}


def test_date_time_has_ansibles_keys() -> None:
    stamp = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1))
    got = facts.date_time(stamp)
    assert (got["date"], got["time"], got["epoch"]) == ("2026-03-04", "05:06:07",
                                                        str(int(stamp)))
    assert {"year", "month", "weekday", "weekday_number", "weeknumber", "day", "hour",
            "minute", "second", "epoch_int", "iso8601", "iso8601_micro", "iso8601_basic",
            "iso8601_basic_short", "tz", "tz_dst", "tz_offset"} <= set(got)


def test_virtualization_from_the_container_marker(tmp_path: Path) -> None:
    (tmp_path / "container").write_text("systemd-nspawn\n")
    assert facts.virtualization(str(tmp_path / "container"), str(tmp_path)) == \
        {"type": "systemd-nspawn", "role": "guest"}
    (tmp_path / "dmi").mkdir()
    (tmp_path / "dmi" / "sys_vendor").write_text("QEMU\n")
    assert facts.virtualization(str(tmp_path / "none"), str(tmp_path / "dmi"))["type"] in \
        ("kvm", "docker")  # docker when this test itself runs in a container


def test_gather_reads_only_the_subsets_asked_for() -> None:
    least = facts.gather([])
    assert "hostname" in least and "net" not in least and "mounts" not in least
    assert "net" in facts.gather(["network"]) and "mounts" in facts.gather(["hardware"])
    assert {"net", "mounts", "virtualization"} <= set(facts.gather())
    assert {"selinux", "apparmor"} <= set(least)  # in Ansible's min set too
    assert facts.ansible_names(least)["fips"] in (True, False)  # ansible_fips, as Ansible's


def test_ansible_names_of_this_hosts_facts() -> None:
    named = facts.ansible_names(facts.gather())
    account = named["user_id"], named["user_uid"], named["user_dir"]
    assert account == (facts._account()["user_id"], os.geteuid(),
                       facts._account()["user_dir"])
    assert "lo" in named["interfaces"] and named["lo"]["device"] == "lo"
    assert not any(a.startswith("127.") for a in named["all_ipv4_addresses"]) or \
        named["all_ipv4_addresses"] == facts.gather(["network"])["addresses"]
    assert named["memtotal_mb"] > 0 and named["processor_vcpus"] >= 1
    assert named["env"]["PATH"] == os.environ["PATH"]
    assert set(named["mounts"][0]) >= {"mount", "device", "fstype", "options"}
    assert named["selinux"] is False or named["selinux"]["status"] == "enabled"


def test_ansible_names_from_a_sample_host() -> None:
    raw = {"hostname": "web1", "fqdn": "web1.example.org", "os": {"id": "debian",
                                                                   "version_id": "12"},
           "addresses": ["10.0.0.5", "127.0.0.1"],
           "net": {"interfaces": {"eth-0": {"device": "eth-0", "ipv4": {"address": "10.0.0.5"},
                                            "ipv6": [{"address": "fd00::5"}]},
                                  "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1"},
                                         "ipv6": [{"address": "::1"}]}},
                   "default_ipv4": {"address": "10.0.0.5", "interface": "eth-0"}}}
    named = facts.ansible_names(raw)
    assert named["domain"] == "example.org" and named["interfaces"] == ["eth-0", "lo"]
    assert named["eth_0"]["ipv4"]["address"] == "10.0.0.5"
    assert named["all_ipv4_addresses"] == ["10.0.0.5"]
    assert named["all_ipv6_addresses"] == ["fd00::5"]
    assert named["default_ipv4"]["interface"] == "eth-0" and named["default_ipv6"] == {}
    assert named["lsb"]["id"] == "Debian"  # no /etc/lsb-release: from os-release


def test_local_facts_come_with_the_hello(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "app.fact").write_text('{"release": 7}')
    monkeypatch.setattr(facts, "FACT_PATH", str(tmp_path))
    assert facts.ansible_names(facts.gather([]))["local"] == {"app": {"release": 7}}
    monkeypatch.setattr(facts, "FACT_PATH", str(tmp_path / "none"))
    assert facts.ansible_names(facts.gather([]))["local"] == {}

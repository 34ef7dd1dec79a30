"""apt_key on a temp trusted.gpg.d, with keys gpg makes (its fingerprints are the reference)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import apt_key
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op


# Known answers: Debian's published release signing keys (public), and their fingerprints
# as Debian announces them.
BOOKWORM_FPR = "4D64FEC119C2029067D6E791F8D2585B8783D481"
BOOKWORM = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEY865UxYJKwYBBAHaRw8BAQdAd7Z0srwuhlB6JKFkcf4HU4SSS/xcRfwEQWzr
crf6AEq0SURlYmlhbiBTdGFibGUgUmVsZWFzZSBLZXkgKDEyL2Jvb2t3b3JtKSA8
ZGViaWFuLXJlbGVhc2VAbGlzdHMuZGViaWFuLm9yZz6IlgQTFggAPhYhBE1k/sEZ
wgKQZ9bnkfjSWFuHg9SBBQJjzrlTAhsDBQkPCZwABQsJCAcCBhUKCQgLAgQWAgMB
Ah4BAheAAAoJEPjSWFuHg9SBSgwBAP9qpeO5z1s5m4D4z3TcqDo1wez6DNya27QW
WoG/4oBsAQCEN8Z00DXagPHbwrvsY2t9BCsT+PgnSn9biobwX7bDDg==
=5NZE
-----END PGP PUBLIC KEY BLOCK-----
"""
TRIXIE_FPR = "41587F7DB8C774BCCF131416762F67A0B2C39DE4"
TRIXIE = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEZ+Gq1RYJKwYBBAHaRw8BAQdARlh1OX84KPJRedAP/M7WxPFEthWypAp8nved
FhqaX0q0R0RlYmlhbiBTdGFibGUgUmVsZWFzZSBLZXkgKDEzL3RyaXhpZSkgPGRl
Ymlhbi1yZWxlYXNlQGxpc3RzLmRlYmlhbi5vcmc+iJYEExYIAD4WIQRBWH99uMd0
vM8TFBZ2L2egssOd5AUCZ+Gq1QIbAwUJDwmcAAULCQgHAgYVCgkICwIEFgIDAQIe
AQIXgAAKCRB2L2egssOd5DjVAP49S/e9VAtn9ip2DXj5zx87MpUXnLHAhT/LsJ7J
odnKoQEA8murEqdcC0pPsAA6Gmev/lz0MWUyfe5Y6DMB6t16FQuIdQQTFgoAHRYh
BMphnWWnKnut/JbSgBlkGKrrdMihBQJn4atmAAoJEBlkGKrrdMihxnAA/3i7WOUU
Dyea6tABVGfFKfHj6yAbfcKVr5GL0WSOQiXNAQC2YTKoTfCY/WOZnCwEHebpM3Mr
6+A8lenj8pFzm8mFAokCMgQQAQoAHRYhBHIDYw4sjnJyUWhP68XOXcLFQs1ZBQJn
4v59AAoJEMXOXcLFQs1ZfdkP90fbXOydWNb1iXwu/vaUjxSx5Nk0Zwkjj7Pi74PZ
Ifd9c0Luf/j7dEHuJOzkOKvkrpTYeQN8Ms9ITVTMeNSOoQn8tnYsxhHqHUcI9ym/
vJ6liIsE2K95gwH2mOQ24ot59pMyQX7sXE4DuQqlrEW1JRemKs7WJB2E/4I7smqG
3+/mqXAoHKkpFBMm1v9tNVx1Tp3ER6C4VFszONlmX0NLB5If+wSits1LnsVgBK1D
Hd3Nxh78YQL0W2xBCOfsHryaKkLW6tp1efTpMHfe4lDEgTFvEWaO3NlPEeD67uxA
KpEG1b/CzBqx+Og1RT+0iZkW9oXYoKJI0Vx0HlYeMrhuE+Q0Fqy/nZYcWhq3y6Tu
GC9J+hyB7D3Z7ne48zNGaAU4x7+6pvkmlBWnNwPH/IlGbexa/F8o+rU0AWrvYCVR
cbbcSsgkq1Dl/Xjbvlx9gwkKnhacbQ5VUOA2Zkp6oBn/pFD1W8xE0X4dNHcM3J5k
CAeZuszjPIZXvwuvAjaOE7ZxKvGDlQTWK8zR5h9tvcwMfVND+EqK0qfDGDMtJqu/
W0lSJj3G/FMO3aGn0Ks6b7cmjbCGjmn7WBGJT2PvH4A4ml1qopWy7Ont6zt1+Cll
y/0Uf75AamJSrAAYFFIJlcpWH/7NRW2L+n1FoIOv5xj5h675uHh/WFlPTNQqrRaP
p1o=
=k1cs
-----END PGP PUBLIC KEY BLOCK-----
"""


def binary(armored: str) -> bytes:
    return apt_key.dearmor(armored.encode())


@pytest.fixture(scope="module")
def keys() -> dict:
    return {"alice": (BOOKWORM_FPR, BOOKWORM.encode(), binary(BOOKWORM)),
            "bob": (TRIXIE_FPR, TRIXIE.encode(), binary(TRIXIE))}


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "trusted.gpg.d"
    folder.mkdir()
    monkeypatch.setattr(apt_key, "TRUSTED_DIR", str(folder))
    monkeypatch.setattr(apt_key, "keyring_files",
                        lambda keyring: [keyring] if keyring else
                        sorted(str(p) for p in folder.iterdir()))
    return folder


def test_fingerprints_are_the_published_ones_for_armored_and_binary_keys(keys: dict) -> None:
    for fpr, armored, raw in keys.values():
        assert apt_key.fingerprints(armored)[0] == fpr
        assert apt_key.fingerprints(raw)[0] == fpr
    # a subkey packet (tag 14) belongs to the primary key before it
    primary = apt_key.packets(binary(BOOKWORM))[0][1]
    subkey = bytes([0xC0 | 14, len(primary)]) + primary
    groups = apt_key.key_groups(binary(BOOKWORM) + subkey + binary(TRIXIE))
    assert [len(g) for g in groups] == [2, 1] and groups[1] == [TRIXIE_FPR]


def test_a_key_is_written_once_and_found_by_its_id(trusted: Path, keys: dict) -> None:
    fpr, armored, _ = keys["alice"]
    out = run_op("apt_key", {"data": armored.decode(), "id": fpr[-16:], "state": "present"})
    assert out.status == "changed" and out.data["fp"] == fpr
    assert (trusted / (fpr[-16:] + ".asc")).read_bytes() == armored
    assert run_op("apt_key", {"data": armored.decode(), "id": fpr, "state": "present"}
                  ).status == "ok"
    assert run_op("apt_key", {"id": fpr[-8:], "state": "present"}).status == "ok"


def test_a_key_that_is_not_the_id_is_refused(trusted: Path, keys: dict) -> None:
    out = run_op("apt_key", {"data": keys["bob"][1].decode(), "id": keys["alice"][0],
                             "state": "present"})
    assert out.status == "failed" and "not id" in out.msg
    assert list(trusted.iterdir()) == []


def test_absent_removes_the_file_but_not_one_shared_with_other_keys(trusted: Path,
                                                                    keys: dict) -> None:
    alice, bob = keys["alice"], keys["bob"]
    (trusted / "alice.gpg").write_bytes(alice[2])
    (trusted / "both.gpg").write_bytes(alice[2] + bob[2])
    refused = run_op("apt_key", {"id": bob[0], "state": "absent"})
    assert refused.status == "failed" and "other keys" in refused.msg
    (trusted / "both.gpg").unlink()
    assert run_op("apt_key", {"id": alice[0], "state": "absent"}, check=True).status == "changed"
    assert (trusted / "alice.gpg").exists()
    assert run_op("apt_key", {"id": alice[0], "state": "absent"}).status == "changed"
    assert list(trusted.iterdir()) == []
    assert run_op("apt_key", {"id": alice[0], "state": "absent"}).status == "ok"


def test_not_a_key_and_bad_arguments() -> None:
    with pytest.raises(Exception, match="not an OpenPGP key"):
        apt_key.fingerprints(b"hello")
    with pytest.raises(BadInput, match="keyserver is not supported"):
        coerce_args(OPS["apt_key"], {"id": "F8D2585B8783D481", "keyserver": "hkp://x"})
    with pytest.raises(BadInput, match="needs the key's id"):
        coerce_args(OPS["apt_key"], {"state": "absent"}, "site.yml:7")
    with pytest.raises(BadInput, match="not a key id"):
        coerce_args(OPS["apt_key"], {"id": "nope", "url": "http://h/k"})

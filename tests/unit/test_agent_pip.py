"""pip into a real virtualenv, from wheels made by the test (no package index)."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from mainsail.agent.ops import pip as pipop
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op


def wheel(folder: Path, name: str, version: str) -> Path:
    """The smallest wheel pip installs: one module, METADATA, WHEEL and RECORD."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {f"{name}.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
            record.append(f"{member},sha256={digest.rstrip(b'=').decode()},{len(text)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for version in ("1.0", "1.5", "2.0"):
        wheel(folder, "mainsailprobe", version)
    return folder


def args(venv: Path, wheels: Path, **kw: object) -> dict:
    base = {"virtualenv": str(venv), "virtualenv_command": "python3 -m venv",
            "extra_args": f"--no-index --find-links {wheels}", "state": "present"}
    base.update(kw)
    return base


def test_a_virtualenv_is_made_then_packages_kept_as_asked(tmp_path: Path, wheels: Path) -> None:
    # One virtualenv for the whole story: making one costs seconds.
    venv = tmp_path / "venv"
    first = run_op("pip", args(venv, wheels, name=["mainsailprobe==1.5"]))
    assert first.status == "changed", first.msg
    assert (venv / "bin/python").exists() and "virtualenv" in first.msg
    listed = lambda: pipop.installed_versions(pipop.pip_argv({"virtualenv": str(venv)}), None)
    assert listed()["mainsailprobe"] == "1.5"
    again = run_op("pip", args(venv, wheels, name=["mainsailprobe>=1.2,<2"]))
    assert again.status == "ok", again.msg
    # a version the installed one does not satisfy is installed; check mode only says so
    assert run_op("pip", args(venv, wheels, name=["mainsailprobe"], version="2.0"),
                  check=True).status == "changed"
    assert listed()["mainsailprobe"] == "1.5"
    assert run_op("pip", args(venv, wheels, name=["mainsailprobe"], version="2.0")
                  ).status == "changed"
    assert listed()["mainsailprobe"] == "2.0"
    # a requirements file: only what is missing counts
    req = tmp_path / "requirements.txt"
    req.write_text("# pinned\nmainsailprobe==1.0  # the old one\n")
    assert run_op("pip", args(venv, wheels, requirements=str(req))).status == "changed"
    assert run_op("pip", args(venv, wheels, requirements=str(req))).status == "ok"
    # latest is changed only when pip's list differs afterwards
    latest = run_op("pip", args(venv, wheels, name=["mainsailprobe"], state="latest"))
    assert latest.status == "changed" and listed()["mainsailprobe"] == "2.0"
    assert run_op("pip", args(venv, wheels, name=["mainsailprobe"], state="latest")
                  ).status == "ok"
    # a wheel's path: pip decides, and a second run finds nothing to do
    path = str(wheels / "mainsailprobe-1.5-py3-none-any.whl")
    assert run_op("pip", args(venv, wheels, name=[path])).status == "changed"
    assert listed()["mainsailprobe"] == "1.5"
    assert run_op("pip", args(venv, wheels, name=[path])).status == "ok"
    gone = run_op("pip", args(venv, wheels, name=["mainsailprobe"], state="absent"))
    assert gone.status == "changed", gone.msg
    assert "mainsailprobe" not in listed()
    assert run_op("pip", args(venv, wheels, name=["mainsailprobe"], state="absent")
                  ).status == "ok"


def test_versions_compare_as_pep_440_orders_them() -> None:
    assert pipop.satisfies("1.10", [(">", "1.9")])
    assert pipop.satisfies("2.0rc1", [("<", "2.0")])
    assert pipop.satisfies("1.0.post1", [(">", "1.0")])
    assert pipop.satisfies("1.4.2", [("~=", "1.4")]) and not pipop.satisfies("2.0", [("~=", "1.4")])
    assert pipop.satisfies("1.2.7", [("==", "1.2.*")]) and not pipop.satisfies("1.3", [("==", "1.2.*")])
    assert pipop.satisfies("1.0", [("==", "1.0.0")])
    assert pipop.parse_requirement("Django[argon2] >=4.2, <5") == ("django", [(">=", "4.2"), ("<", "5")])
    assert pipop.parse_requirement("./dist/app-1.0.tar.gz") is None
    assert pipop.parse_requirement("git+https://example.org/app.git") is None


def test_refusals_before_anything_runs() -> None:
    with pytest.raises(BadInput, match="version goes with exactly one name"):
        coerce_args(OPS["pip"], {"name": ["a", "b"], "version": "1"}, "site.yml:2")
    with pytest.raises(BadInput, match="not a requirements file"):
        coerce_args(OPS["pip"], {"requirements": "/r.txt", "state": "absent"})
    failed = run_op("pip", {"name": ["-r/etc/shadow"]})
    assert failed.status == "failed" and "starts with '-'" in failed.msg

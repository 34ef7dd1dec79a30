"""The agent runs on hosts with Python 3.8: its source must not use newer syntax or APIs.
(The protocol tests also run the agent under a real 3.8 when one is installed.)"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import List

import pytest

from mainsail import agentproc
from mainsail.agent import facts

AGENT = Path(agentproc.AGENT_DIR)
SOURCES = sorted(AGENT.rglob("*.py"))

# names that only exist from 3.9 on (attribute or module names)
NEWER_APIS = {
    "removeprefix", "removesuffix", "zoneinfo", "graphlib", "tomllib", "file_digest",
    "is_relative_to", "with_stem", "randbytes", "waitstatus_to_exitcode", "pidfd_open",
    "unparse", "bit_count", "pairwise", "batched", "ExceptionGroup", "TaskGroup",
}


def source_id(path: Path) -> str:
    return str(path.relative_to(AGENT))


@pytest.mark.parametrize("path", SOURCES, ids=source_id)
def test_parses_as_python_3_8(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))
    assert isinstance(tree, ast.Module)


@pytest.mark.parametrize("path", SOURCES, ids=source_id)
def test_annotations_are_never_evaluated(path: Path) -> None:
    """list[int] or X | None in an annotation is fine on 3.8 only when postponed."""
    tree = ast.parse(path.read_text())
    if not any(isinstance(n, (ast.FunctionDef, ast.AnnAssign)) for n in ast.walk(tree)):
        return
    futures = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    assert any(a.name == "annotations" for f in futures for a in f.names)


@pytest.mark.parametrize("path", SOURCES, ids=source_id)
def test_uses_no_3_9_plus_api(path: Path) -> None:
    tree = ast.parse(path.read_text())
    used: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in NEWER_APIS:
            used.append(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            used += [n for n in names if n.split(".")[0] in NEWER_APIS]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in ("list", "dict", "tuple", "set", "type") \
                and not _inside_annotation(tree, node):
            used.append("%s[...] at runtime" % node.value.id)
    assert used == []


def _inside_annotation(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations = [a.annotation for a in node.args.args + node.args.kwonlyargs] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for ann in annotations:
            if ann is not None and any(sub is target for sub in ast.walk(ann)):
                return True
    return False


def test_the_agent_imports_only_the_standard_library() -> None:
    """Relative imports only, so the package runs as mainsail_agent inside the zipapp."""
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module and not node.module.startswith("mainsail"), source_id(path)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("mainsail") for a in node.names), source_id(path)


def test_bootstrap_parses_as_python_3_8() -> None:
    tree = ast.parse(agentproc.BOOTSTRAP, feature_version=(3, 8))
    assert tree.body, "the bootstrap is empty"


# ---- facts parsing ----------------------------------------------------------------

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 10.20.0.0/24 2 0 2
           |-- 10.20.0.0
              /24 link UNICAST
           |-- 10.20.0.5
              /32 host LOCAL
Local:
           |-- 10.20.0.5
              /32 host LOCAL
           |-- 192.0.2.9
              /32 host LOCAL
"""

OS_RELEASE = '''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
'''


def test_addresses_from_fib_trie_local_entries_loopback_last() -> None:
    assert facts.parse_fib_trie(FIB_TRIE) == ["10.20.0.5", "192.0.2.9", "127.0.0.1"]


def test_os_release() -> None:
    assert facts.os_facts(OS_RELEASE) == {"id": "debian", "version_id": "12",
                                          "codename": "bookworm",
                                          "pretty": "Debian GNU/Linux 12 (bookworm)"}
    assert facts.os_facts("") == {"id": "", "version_id": "", "codename": "", "pretty": ""}


def test_meminfo_and_fqdn() -> None:
    assert facts.parse_meminfo_mb("MemTotal:       2048000 kB\nMemFree: 1 kB\n") == 2000
    hosts = "127.0.0.1 localhost\n10.0.0.5 web1.example.org web1  # me\n"
    assert facts.fqdn_from_hosts("web1", hosts) == "web1.example.org"
    assert facts.fqdn_from_hosts("db1", hosts) == "db1"


def test_init_system_follows_the_systemd_marker(tmp_path: Path) -> None:
    assert facts.init_system(str(tmp_path)) == "systemd"
    assert facts.init_system(str(tmp_path / "missing")) == "sysv"

"""The Python API: what `mainsail deploy` and `mainsail plan` do, callable from Python.

    from mainsail import Project
    record = Project("path/to/project").plan(limit="web1")
    if record.changed:
        Project("path/to/project").deploy(limit="web1")

Runs return the same :class:`RunRecord` the command line prints and writes as JSON and JUnit;
bad input raises :class:`BadInput` (the command line's exit 4) before any host is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .flags import with_overrides
from .inventory import Host, Inventory, load_inventory, select_hosts
from .playbook import load_playbook
from .preflight import syntax_check as check_offline
from .report import Masker, Progress, RunRecord, masked_dict, write_json, write_junit
from .runner import RunOptions, holder_identity, run_playbook
from .vault import Vault

if TYPE_CHECKING:
    from rich.console import Console  # loaded for a run that prints (the command line finds
    # its project with find_root, and prints without rich off a terminal)

DEFAULT_INVENTORY = "inventory/hosts.yml"


def find_root(start: Path) -> Path:
    """The project folder: ``start`` or the nearest parent with an invoke.yaml, a tasks.py or
    an inventory/ folder (the command line's rule)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if any((folder / m).exists() for m in ("invoke.yaml", "tasks.py", "inventory")):
            return folder
    return here


class Project:
    """A Mainsail project on disk: its inventory, playbooks and roles."""

    def __init__(self, path: str | Path = ".", *, inventory: str | Path | None = None,
                 vault_password_file: str | Path | None = None) -> None:
        self.root = find_root(Path(path))
        self.inventory_path = self.root / (inventory or DEFAULT_INVENTORY)
        self._password_file = str(vault_password_file) if vault_password_file else None
        self._masks: dict[int, Masker] = {}  # each run's masker, for its reports

    def vault(self) -> Vault:
        """A fresh vault for one run (password from the file given, or MAINSAIL_VAULT_*)."""
        return Vault(self._password_file)

    def inventory(self, vault: Vault | None = None) -> Inventory:
        return load_inventory(self.inventory_path, secrets=vault or self.vault())

    def hosts(self, limit: str | None = None) -> list[Host]:
        """The hosts an Ansible pattern selects (all of them without one)."""
        return select_hosts(self.inventory(), limit=limit)

    def deploy(self, *, limit: str | None = None, playbook: str = "site", check: bool = False,
               diff: bool = False, tags: Sequence[str] = (), skip_tags: Sequence[str] = (),
               extra_vars: Mapping[str, Any] | None = None, forks: int = 20,
               timeout: float = 10.0, user: str | None = None, become: bool = False,
               become_password: str | None = None, lock_wait: float = 0.0,
               console: Console | None = None) -> RunRecord:
        """Apply ``playbook`` to the hosts ``limit`` selects (``check``: change nothing).
        Output goes to ``console`` when given (the command line's lines and recap), else
        nowhere."""
        secrets = self.vault()
        inv = with_overrides(self.inventory(secrets), user, become, become_password)
        chosen = select_hosts(inv, limit=limit)
        plays = load_playbook(self.root, playbook, secrets)
        opts = RunOptions(check=check, diff=diff, tags=tuple(tags), skip_tags=tuple(skip_tags),
                          forks=forks, extra_vars=dict(extra_vars or {}),
                          connect_timeout=float(timeout), lock_wait=float(lock_wait),
                          holder=holder_identity("api deploy playbook=%s" % playbook),
                          secrets=secrets)
        if console is None:
            from rich.console import Console
            console = Console(quiet=True)
        progress = Progress(console, Masker().with_secrets(secrets.secrets()), show_diff=diff)
        with progress:
            record = run_playbook(self.root, inv, plays, chosen, opts, progress,
                                  playbook=playbook)
        self._masks[id(record)] = progress.mask
        return record

    def plan(self, **kwargs: Any) -> RunRecord:
        """What :meth:`deploy` would change, changing nothing (``check`` is always on)."""
        kwargs["check"] = True
        kwargs.setdefault("diff", True)
        return self.deploy(**kwargs)

    def syntax_check(self, *, limit: str | None = None, playbook: str = "site",
                     extra_vars: Mapping[str, Any] | None = None, tags: Sequence[str] = (),
                     skip_tags: Sequence[str] = ()) -> int:
        """Render everything for every selected host with no connection; raises BadInput on
        bad input. Returns the number of host plans rendered."""
        secrets = self.vault()
        inv = self.inventory(secrets)
        plays = load_playbook(self.root, playbook, secrets)
        return check_offline(self.root, inv, plays, select_hosts(inv, limit=limit),
                             dict(extra_vars or {}), tuple(tags), tuple(skip_tags), secrets)

    # reports, exactly as the command line writes them (secrets masked)
    def _mask(self, record: RunRecord) -> Masker:
        return self._masks.get(id(record), Masker())

    def as_json(self, record: RunRecord) -> dict[str, Any]:
        """The JSON report of a run (docs/reports.md), as a dict."""
        return masked_dict(record, self._mask(record))

    def write_json(self, record: RunRecord, path: str | Path) -> None:
        write_json(record, Path(path), self._mask(record))

    def write_junit(self, record: RunRecord, path: str | Path) -> None:
        write_junit(record, Path(path), self._mask(record))


__all__ = ["Project", "find_root"]

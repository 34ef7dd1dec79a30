"""A project's ansible.cfg, found and read as Ansible finds and reads it.

The first of ``$ANSIBLE_CONFIG`` (a file, or a folder holding ansible.cfg), ``ansible.cfg`` in
the project root (ignored, with a warning, when that folder is world-writable: anyone could
plant one), ``~/.ansible.cfg`` and ``/etc/ansible/ansible.cfg`` is read; only that one, as in
Ansible. Mainsail's own settings (flags, ``MAINSAIL_*``, invoke.yaml) come first; ansible.cfg
fills in what they leave unset (docs/commands.md, "Settings and their precedence").

``host_key_checking = False`` (or ``ANSIBLE_HOST_KEY_CHECKING=False``) is refused: Mainsail
always checks host keys.
"""

from __future__ import annotations

import configparser
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import BadInput
from .inventory import CONNECTION_VARS, Inventory

SYSTEM_CFG = Path("/etc/ansible/ansible.cfg")
TRUE_WORDS = ("y", "yes", "on", "1", "true", "t")
# ansible.cfg key -> Mainsail setting, per section; paths are relative to the file's folder.
DEFAULTS_KEYS: Mapping[str, str] = MappingProxyType({
    "inventory": "inventory", "roles_path": "roles_path", "remote_user": "remote_user",
    "forks": "forks", "timeout": "timeout", "vault_password_file": "vault_password_file",
    "private_key_file": "private_key_file", "become": "become",
    "become_method": "become_method", "become_user": "become_user",
    "become_ask_pass": "ask_become_pass"})
PRIVILEGE_KEYS: Mapping[str, str] = MappingProxyType({
    "become": "become", "become_method": "become_method", "become_user": "become_user",
    "become_ask_pass": "ask_become_pass"})
PATH_SETTINGS = ("inventory", "vault_password_file", "private_key_file")
# Settings that are defaults for each host: an inventory variable beats them, as in Ansible.
HOST_DEFAULTS: Mapping[str, str] = MappingProxyType({
    "remote_user": "user", "private_key_file": "ssh_key", "become": "become",
    "become_user": "become_user", "become_method": "become_method"})
BOOL_SETTINGS = ("become", "ask_become_pass")
HOST_KEY_HINT = ("Mainsail always checks host keys against the inventory's known_hosts; "
                 "remove host_key_checking (or set it to True) and pin the hosts' keys: "
                 "ssh-keyscan HOST >> inventory/known_hosts, after checking the fingerprint")


@dataclass(frozen=True)
class AnsibleConfig:
    """What an ansible.cfg says, as Mainsail settings (``settings``), and where it is."""

    path: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> Any:
        return self.settings.get(name)


def find(root: Path, env: Mapping[str, str] | None = None,
         home: Path | None = None) -> tuple[Path | None, tuple[str, ...]]:
    """The ansible.cfg Ansible would read for a run in ``root``, and the warnings on the way."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home()) if home is None else home
    warnings: list[str] = []
    candidates: list[Path] = []
    if env.get("ANSIBLE_CONFIG"):
        given = Path(env["ANSIBLE_CONFIG"]).expanduser()
        candidates.append(given / "ansible.cfg" if given.is_dir() else given)
    local = root / "ansible.cfg"
    if local.is_file() and _world_writable(root):
        warnings.append(f"{local}: ignored, because its folder {root} is world-writable "
                        "(anyone could have put it there), as Ansible ignores it")
    else:
        candidates.append(local)
    candidates += [home / ".ansible.cfg", SYSTEM_CFG]
    found = next((c for c in candidates if c.is_file()), None)
    return found, tuple(warnings)


def _world_writable(folder: Path) -> bool:
    try:
        return bool(folder.stat().st_mode & stat.S_IWOTH)
    except OSError:
        return False


def load(root: Path, env: Mapping[str, str] | None = None,
         home: Path | None = None) -> AnsibleConfig:
    """The ansible.cfg for ``root`` read into Mainsail settings; BadInput when it turns host
    key checking off or cannot be read."""
    env = os.environ if env is None else env
    _refuse_unchecked_keys(env.get("ANSIBLE_HOST_KEY_CHECKING"), "ANSIBLE_HOST_KEY_CHECKING")
    path, warnings = find(root, env, home)
    settings: dict[str, Any] = {}
    if path is not None:
        parser = _parse(path)
        if parser.has_option("defaults", "host_key_checking"):
            _refuse_unchecked_keys(parser.get("defaults", "host_key_checking", raw=True),
                                   f"{path}: [defaults] host_key_checking")
        for section, keys in (("defaults", DEFAULTS_KEYS),
                              ("privilege_escalation", PRIVILEGE_KEYS)):
            for key, name in keys.items():
                if parser.has_option(section, key):
                    settings[name] = _value(name, parser.get(section, key, raw=True).strip(),
                                            path, section, key)
    # Ansible's environment variables for the same keys beat its file, as in Ansible.
    for key, name in DEFAULTS_KEYS.items():
        variable = "ANSIBLE_" + key.upper()
        if env.get(variable, "").strip():
            settings[name] = _value(name, env[variable].strip(), Path.cwd() / variable,
                                    "environment", variable)
    return AnsibleConfig(path, MappingProxyType(settings), warnings)


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    try:
        parser.read_string(path.read_text("utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc})",
                       str(path), "ansible.cfg must be readable UTF-8 text") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise BadInput(f"ansible.cfg is not a valid INI file: {first}", str(path),
                       "sections are [defaults] and [privilege_escalation], lines key = value") \
            from None
    return parser


def _refuse_unchecked_keys(value: str | None, where: str) -> None:
    if value is not None and value.strip() and not is_true(value):
        raise BadInput("host key checking cannot be turned off", where, HOST_KEY_HINT)


def is_true(text: str) -> bool:
    """Ansible's reading of a boolean setting: yes/on/true/1/y/t, in any case."""
    return text.strip().lower() in TRUE_WORDS


def _value(name: str, text: str, path: Path, section: str, key: str) -> Any:
    """A setting's value from ``path`` (for the environment: a name in the current folder,
    so relative paths are taken from there)."""
    where = key if section == "environment" else str(path)
    what = key if section == "environment" else f"[{section}] {key}"
    if name in BOOL_SETTINGS:
        return is_true(text)
    if name in ("forks", "timeout"):
        if not text.isdigit() or int(text) < 1:
            raise BadInput(f"{what} = {text!r} is not a positive whole number", where,
                           f"e.g. {key} = {20 if key.endswith('forks') else 10}")
        return int(text)
    if name == "roles_path":
        return tuple(str(_relative(p, path)) for p in text.split(os.pathsep) if p.strip())
    if name == "inventory":
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if len(parts) != 1:
            raise BadInput(f"{what} names {len(parts)} sources; Mainsail reads one", where,
                           "put the sources in one folder and name the folder")
        return str(_relative(parts[0], path))
    if name in PATH_SETTINGS:
        return str(_relative(text, path))
    return text


def with_host_defaults(inv: Inventory, cfg: AnsibleConfig) -> Inventory:
    """Each host's connection settings with ansible.cfg's ``remote_user``,
    ``private_key_file`` and ``become*`` filled in where the inventory sets none."""
    given = {setting: cfg.get(name) for name, setting in HOST_DEFAULTS.items()
             if cfg.get(name) is not None}
    if not given:
        return inv
    where = f"{cfg.path}: [defaults]"
    hosts = {}
    for name, host in inv.hosts.items():
        unset = {k: v for k, v in given.items()
                 if not any(n in host.vars for n in (k, *CONNECTION_VARS[k]))}
        hosts[name] = replace(host, **_checked(unset, name, where)) if unset else host
    return replace(inv, hosts=MappingProxyType(hosts))


def _checked(values: dict[str, Any], host: str, where: str) -> dict[str, Any]:
    from .inventory import check_connection_value
    return {k: check_connection_value(k, v, f"host {host}: {k} from ansible.cfg", where)
            for k, v in values.items()}


def _relative(text: str, cfg: Path) -> Path:
    """A path in ansible.cfg: ``~`` expanded, relative ones from the file's folder."""
    path = Path(os.path.expandvars(text.strip())).expanduser()
    return path if path.is_absolute() else cfg.parent.absolute() / path

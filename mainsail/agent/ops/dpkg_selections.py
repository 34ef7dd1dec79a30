"""dpkg_selections: a package's dpkg selection state (hold, install, ...)."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from .. import proc
from ..core import Context, OpError, Outcome, accept, operand, settle
from ..spec import Arg, OpSpec

SELECTIONS = ("install", "hold", "deinstall", "purge")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name = operand("dpkg_selections", "package name", args["name"])
    wanted = str(args["selection"])
    current = selection(name)
    if current == wanted:
        outcome = settle(ctx, [], lambda: None)
    elif current is None and wanted in ("deinstall", "purge"):
        outcome = settle(ctx, [], lambda: None)  # not known to dpkg: nothing to deselect
    else:
        outcome = settle(ctx, ["%s: %s -> %s" % (name, current or "not-installed", wanted)],
                         lambda: _set(name, wanted))
    outcome.data = {"before": current or "not present", "after": wanted}
    return outcome


def selection(name: str) -> Optional[str]:
    result = proc.run(["dpkg", "--get-selections", "--", name], extra_env=proc.C_LOCALE)
    if result.rc != 0:
        raise OpError("dpkg --get-selections failed (rc %d): %s"
                      % (result.rc, result.stderr.strip()[-300:]))
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].split(":")[0] == name:
            return fields[1]
    return None


def _set(name: str, wanted: str) -> None:
    proc.check_output(["dpkg", "--set-selections"], "dpkg --set-selections",
                      stdin="%s %s\n" % (name, wanted), extra_env=proc.C_LOCALE)


SPEC = OpSpec(
    name="dpkg_selections",
    summary="a package's dpkg selection: hold, install, deinstall, purge",
    ansible="`dpkg_selections`",
    args=(
        Arg("name", doc="the package", operand="package name"),
        Arg("selection", choices=SELECTIONS,
            doc="`hold` keeps apt from upgrading or removing it; `install` releases it"),
    ),
    required=(("name",), ("selection",)),
    doc="""\
Sets a package's selection state with `dpkg --set-selections`: Ansible's `dpkg_selections`,
mostly to `hold` a package at its version. The step is `changed` when the state differed
(`dpkg --get-selections`). A rollback does not restore the old selection. The result has
Ansible's `before` and `after`.
""",
    notes="""\
```yaml
- name: the database stays at its version
  dpkg_selections:
    name: postgresql-15
    selection: hold
```
""",
)

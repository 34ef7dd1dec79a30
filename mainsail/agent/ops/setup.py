"""setup: gather the host's facts again (Ansible's `setup`), some subsets or some names.

The facts come from agent/facts.py, as with the hello; the result's ``ansible_facts`` become
the host's facts for the tasks after it.
"""
from __future__ import annotations

import fnmatch
from typing import Any, List, Mapping, Optional, Tuple

from .. import facts
from ..core import Context, OpError, Outcome, accept, ok
from ..spec import Arg, OpSpec

# Ansible's fine-grained collectors that Mainsail reads as part of its `min` set.
_IN_MIN = ("apparmor", "caps", "cmdline", "date_time", "distribution", "dns", "env", "fips",
           "local", "lsb", "pkg_mgr", "platform", "python", "selinux", "service_mgr",
           "ssh_pub_keys", "user")
_SUBSET_OF = {"interfaces": "network", "devices": "hardware", "mounts": "hardware"}


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    wanted, problem = subsets(list(args["gather_subset"] or ["all"]))
    if problem:
        raise OpError("setup: %s" % problem[0], hint=problem[1])
    raw = facts.gather(wanted)
    named = dict(("ansible_" + k, v) for k, v in facts.ansible_names(raw).items())
    named["ansible_local"] = facts.local_facts(str(args["fact_path"]))
    patterns = list(args["filter"] or [])
    if patterns:
        named = dict((k, v) for k, v in named.items()
                     if any(fnmatch.fnmatchcase(k, p) or fnmatchcase_bare(k, p)
                            for p in patterns))
    outcome = ok("%d facts" % len(named))
    outcome.data = {"ansible_facts": named}
    return outcome


def fnmatchcase_bare(name: str, pattern: str) -> bool:
    """A pattern without the ``ansible_`` prefix matches too (``distribution*``)."""
    return not pattern.startswith("ansible_") and fnmatch.fnmatchcase(name[8:], pattern)


def subsets(items: List[str]) -> Tuple[List[str], Optional[Tuple[str, str]]]:
    """Ansible's gather_subset as the groups facts.gather reads (``min`` is always read):
    named subsets are read; only exclusions (``!hardware``) mean all but those; ``!all``
    leaves every group out unless it is named too."""
    chosen, excluded = set(), set()  # type: set, set
    positive = everything_out = False
    for item in items:
        item = str(item).strip()
        negate = item.startswith("!")
        name = _SUBSET_OF.get(item.lstrip("!"), item.lstrip("!"))
        if name == "all":
            groups = set(facts.SUBSETS)
        elif name in facts.SUBSETS:
            groups = {name}
        elif name in ("min",) + _IN_MIN:
            groups = set()
        else:
            return [], ("unknown gather_subset %r" % item,
                        "use all, min, hardware, network, virtual, or !NAME to leave one out")
        if not negate:
            positive = True
            chosen.update(groups)
        elif name == "all":
            everything_out = True
        else:
            excluded.update(groups)
    if not positive and not everything_out:
        chosen = set(facts.SUBSETS)
    return sorted(chosen - excluded), None


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    """An unknown subset is bad input before anything runs."""
    if args.get("gather_subset") is None:
        return None
    return subsets(list(args["gather_subset"]))[1]


SPEC = OpSpec(
    name='setup',
    aliases=('gather_facts',),  # Ansible's gather_facts module: the same facts
    summary="gather the host's facts again: some subsets, some names, local facts",
    ansible='`setup`, `gather_facts`',
    args=(
        Arg('gather_subset', 'names', default=['all'], doc='`all`, `min`, `hardware`, `network`, `virtual`, and `!NAME` to leave one out (`min` is always read)'),
        Arg('filter', 'names', default=[], doc='glob patterns of fact names to keep (`ansible_eth*`, `ansible_distribution*`)'),
        Arg('fact_path', default=facts.FACT_PATH, doc='a folder of `*.fact` files (JSON or INI) read into `ansible_local`'),
        Arg('gather_timeout', 'int', default=10, doc="accepted for Ansible's sake; reading facts takes milliseconds"),
    ),
    rule=_rule,
    doc="""\
Reads the host's facts again, as the agent does when it connects: from `/proc`, `/sys` and
`/etc`, without starting a process. The result's `ansible_facts` become the host's facts for
the tasks after it (those that read facts wait for it: a
[dependency point](playbooks.md#registered-results-and-segments)), so a play with `gather_facts: false` can
gather only what it needs. Never `changed`. Ansible's `gather_facts` module is the same.
""",
    notes="""\
```yaml
- name: only the network facts
  setup:
    gather_subset: ['!all', network]
    filter: ['ansible_default_ipv4', 'ansible_eth*']
```

Notes:

* `gather_subset`: `all` (the default), `min`, `hardware` (processors, memory, mounts),
  `network` (interfaces, routes, addresses), `virtual`; Ansible's finer names that belong to
  its `min` set (`distribution`, `env`, `date_time`, ...) are accepted and always read.
* `fact_path`: `NAME.fact` files give `ansible_local.NAME`; an executable fact file is not
  run (its entry says so).
* Check mode: the facts are read as usual.
""",
)

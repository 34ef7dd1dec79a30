"""What `deploy` and `plan` can do before any connection: list hosts, tasks and tags, check
everything offline (--syntax-check), and choose the tasks to run (--start-at-task, --step)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .errors import BadInput
from .flags import CLI, closest
from .inventory import Host, Inventory
from .plan import _TagFilter, build_plan  # the run's tag rule, shared
from .playbook import Play, Task
from .runner import play_hosts
from .vault import Vault


def play_title(index: int, play: Play) -> str:
    return "play #%d (%s): %s" % (index, play.hosts, play.name)


def list_hosts(inv: Inventory, plays: Sequence[Play], chosen: Sequence[Host]) -> list[str]:
    lines: list[str] = []
    for i, play in enumerate(plays, 1):
        hosts = play_hosts(inv, play, chosen)
        lines.append("%s  host count=%d" % (play_title(i, play), len(hosts)))
        lines += ["    %s" % h.name for h in hosts]
    return lines


def _all_tasks(play: Play) -> Iterator[tuple[Task, tuple[str, ...]]]:
    """Each task the play runs, in order, with every tag it carries (play, role, task)."""
    for use in play.roles:
        for t in use.role.tasks:
            yield t, tuple(dict.fromkeys((*play.tags, *use.ref.tags, *t.tags)))
    for t in play.tasks:
        yield t, tuple(dict.fromkeys((*play.tags, *t.tags)))


def list_tasks(plays: Sequence[Play], tags: Sequence[str] = (),
               skip_tags: Sequence[str] = ()) -> list[str]:
    """Each play's tasks that -t/--skip-tags select (the run's own rule, special tags too)."""
    chosen = _TagFilter(tuple(tags), tuple(skip_tags))
    lines: list[str] = []
    for i, play in enumerate(plays, 1):
        lines.append(play_title(i, play))
        for t, tags in _all_tasks(play):
            if not chosen.wants(set(tags)):
                continue
            label = "%s : %s" % (t.role, t.title) if t.role else t.title
            lines.append("    %-50s TAGS: [%s]  %s" % (label, ", ".join(tags), t.loc))
    return lines


def list_tags(plays: Sequence[Play]) -> list[str]:
    lines: list[str] = []
    for i, play in enumerate(plays, 1):
        tags = sorted({tag for _, ts in _all_tasks(play) for tag in ts})
        lines.append("%s  TASK TAGS: [%s]" % (play_title(i, play), ", ".join(tags)))
    return lines


def placeholder_facts(host: Host) -> dict[str, Any]:
    """Facts shaped like a real host's (this machine's, under the host's name): what
    --syntax-check renders with when no host is reached."""
    from .agent.facts import gather
    facts = gather()
    facts.update({"hostname": host.name.split(".")[0], "fqdn": host.name})
    return facts


def syntax_check(root: Path, inv: Inventory, plays: Sequence[Play], chosen: Sequence[Host],
                 extra_vars: Mapping[str, Any], tags: Sequence[str], skip_tags: Sequence[str],
                 secrets: Vault) -> int:
    """Render every play for every selected host it targets, offline; BadInput (exit 4)
    on the first problem. Returns the number of host plans rendered."""
    rendered = 0
    for play in plays:
        for host in play_hosts(inv, play, chosen):
            build_plan(root, play, host, placeholder_facts(host), extra_vars, tags=tags,
                       skip_tags=skip_tags, check=True, inventory=inv, secrets=secrets)
            rendered += 1
    return rendered


def _keep_tasks(plays: Sequence[Play], keep: Callable[[Task], bool]) -> list[Play]:
    out = []
    for play in plays:
        roles = tuple(dataclasses.replace(use, role=dataclasses.replace(
            use.role, tasks=tuple(t for t in use.role.tasks if keep(t)))) for use in play.roles)
        out.append(dataclasses.replace(play, roles=roles,
                                       tasks=tuple(t for t in play.tasks if keep(t))))
    return out


def start_at_task(plays: Sequence[Play], name: str) -> list[Play]:
    """The plays without the tasks before the first one named ``name`` (handlers kept)."""
    order = [t for play in plays for t, _ in _all_tasks(play)]
    titles = [t.title for t in order]
    if name not in titles:
        raise BadInput("--start-at-task %r names no task of the playbook" % name, where=CLI,
                       hint=closest(name, titles))
    first = titles.index(name)
    dropped = {id(t) for t in order[:first]}
    return _keep_tasks(plays, lambda t: id(t) not in dropped)


def step_through(plays: Sequence[Play], answer: Callable[[str], str]) -> list[Play]:
    """--step: ask for each task whether to run it: y(es), n(o), c(ontinue: yes to all the
    rest). Asked before the run, since each host gets its whole plan in one request."""
    skipped: set[int] = set()
    go_on = False
    for play in plays:
        for t, _ in _all_tasks(play):
            if go_on:
                continue
            reply = ""
            while reply not in ("y", "n", "c"):
                reply = (answer("Perform task: %s (N)o/(y)es/(c)ontinue: " % t.title).strip()
                         .lower()[:1] or "n")
            if reply == "n":
                skipped.add(id(t))
            go_on = reply == "c"
    return _keep_tasks(plays, lambda t: id(t) not in skipped)

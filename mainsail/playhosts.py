"""What a play's keywords say about its hosts: the order they are taken in (``order``), and
the login user and connection where the inventory names none (``remote_user``,
``connection``)."""

from __future__ import annotations

import dataclasses
import random
from typing import Sequence

from .errors import BadInput
from .inventory import CONNECTION_VARS, Host
from .playbook import Play


def ordered(play: Play, hosts: Sequence[Host]) -> list[Host]:
    """The play's hosts in its ``order`` (inventory order by default); serial batches are
    cut from this order."""
    hosts = list(hosts)
    if play.order == "reverse_inventory":
        return hosts[::-1]
    if play.order in ("sorted", "reverse_sorted"):
        return sorted(hosts, key=lambda h: h.name, reverse=play.order == "reverse_sorted")
    if play.order == "shuffle":
        random.shuffle(hosts)
    return hosts


def _names_it(host: Host, setting: str) -> bool:
    return any(name in host.vars for name in (setting, *CONNECTION_VARS[setting]))


def with_play_settings(host: Host, plays: Sequence[Play]) -> Host:
    """``host`` with the remote_user and connection its plays give, where its inventory names
    none (the inventory wins, as in Ansible). A run keeps one connection per host, so plays
    asking one host for different ones are refused."""
    changes = {}
    for setting, keyword in (("user", "remote_user"), ("connection", "connection")):
        wanted = {getattr(p, keyword) for p in plays if getattr(p, keyword)}
        if not wanted or _names_it(host, setting):
            continue
        if len(wanted) > 1:
            where = next(p.loc for p in plays if getattr(p, keyword))
            raise BadInput(f"plays ask host {host.name} for different {keyword} values "
                           f"({', '.join(sorted(wanted))})", where,
                           "a run keeps one connection per host: set it in the inventory, or "
                           "run the plays separately")
        changes[setting] = wanted.pop()
    return dataclasses.replace(host, **changes) if changes else host

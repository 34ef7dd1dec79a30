"""``report.merge``: the JSON reports of a sharded run (one per CI job) as one report.

The merged report has the schema of a single run's (docs/reports.md) plus ``merged_from``: one
entry per input, in the order given. Hosts are the union of the inputs' hosts; a host in two
inputs means the shards overlapped, and is refused, as are reports of different playbooks or
of a check run mixed with a deploy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import BadInput

SCHEMA_VERSION = 1


def read_report(path: Path) -> dict[str, Any]:
    shown = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput("report not found", where=shown,
                       hint="give the JSON files the shard jobs wrote with --json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput("not a readable JSON report: %s" % exc, where=shown) from None
    if not isinstance(data, dict) or data.get("tool") != "mainsail" or \
            not isinstance(data.get("hosts"), dict):
        raise BadInput("not a Mainsail run report", where=shown,
                       hint="a report is what deploy or plan write with --json FILE")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise BadInput("report schema version %r; this Mainsail reads version %d"
                       % (data.get("schema_version"), SCHEMA_VERSION), where=shown,
                       hint="merge reports written by the same Mainsail version")
    return data


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        ".%03dZ" % int(seconds % 1 * 1000)


def _same(reports: Sequence[tuple[str, Mapping[str, Any]]], key: str) -> Any:
    values = {json.dumps(r.get(key)) for _, r in reports}
    if len(values) > 1:
        seen = ", ".join("%s: %s" % (name, json.dumps(r.get(key))) for name, r in reports)
        raise BadInput("the reports differ in %s (%s)" % (key, seen), where="report.merge",
                       hint="merge only the shards of one run")
    return reports[0][1].get(key)


def merge(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One report from the (name, report) pairs given."""
    if not reports:
        raise BadInput("no reports to merge", where="report.merge",
                       hint="mainsail report.merge 'reports/shard-*.json' --json OUT")
    given = [name for name, _ in reports]
    twice = sorted({name for name in given if given.count(name) > 1})
    if twice:
        raise BadInput("report given twice: %s" % ", ".join(twice), where="report.merge",
                       hint="give each shard's report once")
    playbook, check = _same(reports, "playbook"), _same(reports, "check")
    hosts: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name, report in reports:
        for host, record in report["hosts"].items():
            if host in hosts:
                raise BadInput("host %s is in two reports (%s and %s): the shards overlap"
                               % (host, owner[host], name), where="report.merge",
                               hint="give each job the same N in --shard I/N and its own I")
            hosts[host], owner[host] = record, name
    started = min(float(r.get("started") or 0) for _, r in reports)
    ended = max(float(r.get("ended") or 0) for _, r in reports)
    aborted = sorted({str(r.get("aborted")) for _, r in reports if r.get("aborted")})
    versions = sorted({str(r.get("tool_version")) for _, r in reports})
    merged: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "tool": "mainsail",
        "tool_version": versions[0] if len(versions) == 1 else ", ".join(versions),
        "playbook": playbook, "check": check,
        "hosts": dict(sorted(hosts.items())),
        "seconds": round(max(0.0, ended - started), 3),
        "aborted": "; ".join(aborted), "started": started, "ended": ended,
        "started_at": _iso(started), "ended_at": _iso(ended),
        "merged_from": [{"file": name, "hosts": sorted(r["hosts"]), "seconds": r.get("seconds"),
                         "aborted": r.get("aborted", ""),
                         "started_at": r.get("started_at"), "ended_at": r.get("ended_at")}
                        for name, r in reports],
    }
    profiles = [r["profile"] for _, r in reports if isinstance(r.get("profile"), dict)]
    if profiles:
        merged["profile"] = {"time_unit": "ms",
                             "hosts": {h: p for prof in profiles
                                       for h, p in (prof.get("hosts") or {}).items()},
                             "controllers": [prof.get("controller", {}) for prof in profiles]}
    return merged


def merge_files(paths: Sequence[Path]) -> dict[str, Any]:
    """The reports in these files, merged (a glob that matched nothing is a missing file)."""
    return merge([(str(p), read_report(p)) for p in paths])

"""pip: Python packages in a virtualenv (made when missing) or a Python's own site."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc
from ..core import Context, OpError, Outcome, accept, as_list, flag, operand, settle
from ..spec import Arg, OpSpec

PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "LC_ALL": "C.UTF-8"}
# name[extras] then an optional version specifier list: "Django[argon2]>=4.2,<5"
_REQ = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*)\s*(?:\[[^\]]*\])?\s*"
                  r"(?P<spec>(?:[<>=!~]=?=?\s*[A-Za-z0-9.*+!_\-]+\s*,?\s*)*)\s*(?:;.*)?$")
_CLAUSE = re.compile(r"^(===|==|!=|~=|<=|>=|<|>)\s*(\S+)$")


def canonical(name: str) -> str:
    """PEP 503's name: lower case, runs of '-', '_', '.' as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> Optional[Tuple[str, List[Tuple[str, str]]]]:
    """(canonical name, [(operator, version)]) for a plain requirement; None for a URL, a
    path or an archive, whose version is only known once pip has read it."""
    match = _REQ.match(text)
    if not match or "/" in text or text.endswith((".whl", ".gz", ".zip")):
        return None
    clauses = []
    for part in (p.strip() for p in match.group("spec").split(",")):
        if not part:
            continue
        clause = _CLAUSE.match(part)
        if not clause:
            return None
        clauses.append((clause.group(1), clause.group(2)))
    return canonical(match.group("name")), clauses


def version_key(version: str) -> Tuple[Tuple[int, ...], Tuple[int, str, int], int]:
    """An ordering of PEP 440 versions good for comparing releases: the release numbers,
    then pre-releases (a < b < rc) before the final release, then post releases."""
    text = version.lower().lstrip("v").split("+", 1)[0]
    match = re.match(r"^(\d+(?:\.\d+)*)(?:[-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?(\d*))?"
                     r"(?:[-_.]?(?:post|rev|r)[-_.]?(\d*))?(?:[-_.]?dev[-_.]?(\d*))?$", text)
    if not match:
        return (tuple(int(x) for x in re.findall(r"\d+", text)[:4]) or (0,), (9, "", 0), 0)
    release = tuple(int(x) for x in match.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    tag = match.group(2)
    if tag:
        rank = {"a": 0, "alpha": 0, "b": 1, "beta": 1}.get(tag, 2)
        pre = (rank, tag, int(match.group(3) or 0))
    elif match.group(5) is not None:
        pre = (-1, "dev", int(match.group(5) or 0))
    else:
        pre = (9, "", 0)
    post = int(match.group(4)) if match.group(4) else -1
    return release, pre, post


def satisfies(installed: str, clauses: List[Tuple[str, str]]) -> bool:
    have = version_key(installed)
    for op, wanted in clauses:
        if op == "===":
            ok = installed == wanted
        elif wanted.endswith(".*") and op in ("==", "!="):
            prefix = tuple(int(x) for x in re.findall(r"\d+", wanted[:-2]))
            full = tuple(int(x) for x in re.findall(r"\d+", installed.split("+")[0]))
            ok = full[:len(prefix)] == prefix
            ok = ok if op == "==" else not ok
        elif op == "~=":
            parts = wanted.split(".")
            upper = parts[:-1]
            ok = have >= version_key(wanted) and \
                version_key(installed)[0][:len(upper)] == \
                tuple(int(x) for x in upper if x.isdigit())
        else:
            other = version_key(wanted)
            ok = {"==": have == other, "!=": have != other, "<=": have <= other,
                  ">=": have >= other, "<": have < other, ">": have > other}[op]
        if not ok:
            return False
    return True


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def pip_argv(args: Mapping[str, Any]) -> List[str]:
    if args.get("virtualenv"):
        return [venv_python(str(args["virtualenv"])), "-m", "pip"]
    if args.get("executable"):
        return shlex.split(str(args["executable"]))
    return ["python3", "-m", "pip"]


def installed_versions(pip: List[str], cwd: Optional[str]) -> Dict[str, str]:
    """canonical name -> version, from `pip list --format=json` (what pip itself believes)."""
    out = proc.run(pip + ["list", "--format=json"], cwd=cwd, extra_env=PIP_ENV)
    if out.rc != 0:
        raise out.failure("pip list", hint="is pip installed for this Python (python3-pip)?")
    try:
        return dict((canonical(p["name"]), str(p["version"])) for p in json.loads(out.stdout))
    except (ValueError, KeyError, TypeError):
        raise OpError("pip list printed something that is not its JSON: %s" % out.stdout[:200])


def requirement_lines(path: str) -> List[str]:
    """The plain requirement lines of a requirements file (options and comments dropped)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise OpError("pip: cannot read requirements %s: %s" % (path, exc.strerror))
    lines = []
    for line in text.replace("\\\n", "").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def make_venv(ctx: Context, args: Mapping[str, Any]) -> List[str]:
    """The command that makes the virtualenv: Ansible's `virtualenv_command`; a plain
    `virtualenv` that the host lacks falls back to the standard library's `venv`."""
    venv = str(args["virtualenv"])
    command = shlex.split(str(args.get("virtualenv_command") or "virtualenv"))
    python = args.get("virtualenv_python")
    if command == ["virtualenv"] and shutil.which("virtualenv") is None:
        command = [str(python or "python3"), "-m", "venv"]
        python = None
    if command[0].endswith("virtualenv") and python:
        command += ["-p", str(python)]
    if flag(args, "virtualenv_site_packages"):
        command.append("--system-site-packages")
    return command + [venv]


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("pip: %s" % problem[0], hint=problem[1])
    state = args["state"]
    cwd = args.get("chdir")
    opaque: List[str] = []
    names = [operand("pip", "requirement", n) for n in as_list(args.get("name"))]
    if args.get("version") and names:
        names = ["%s==%s" % (names[0], args["version"])]
    changes: List[str] = []
    steps: List[List[str]] = []
    venv = args.get("virtualenv")
    new_venv = bool(venv) and not os.path.exists(venv_python(str(venv)))
    if new_venv:
        steps.append(make_venv(ctx, args))
        changes.append("virtualenv %s made" % venv)
    pip = pip_argv(args)
    have: Dict[str, str] = {} if new_venv else installed_versions(pip, cwd)
    extra = shlex.split(str(args.get("extra_args") or ""))
    if flag(args, "break_system_packages"):
        extra.append("--break-system-packages")
    wanted = names + (requirement_lines(str(args["requirements"]))
                      if args.get("requirements") else [])
    if state == "absent":
        gone = [n for n in names if (parse_requirement(n) or ("", []))[0] in have]
        if gone:
            changes.append("removed " + ", ".join(gone))
            # extra_args are install options (--index-url, --find-links): uninstall has none
            steps.append(pip + ["uninstall", "-y"] +
                         (["--break-system-packages"] if flag(args, "break_system_packages")
                          else []) + ["--"] +
                         [parse_requirement(n)[0] for n in gone])  # type: ignore[index]
    else:
        missing = [w for w in wanted if _needs_install(w, have, state)]
        # Paths, archives and URLs: only pip can tell whether they are installed already.
        opaque = [w for w in wanted if parse_requirement(w) is None and not w.startswith("-")]
        if missing or opaque or state in ("latest", "forcereinstall"):
            argv = pip + ["install"] + extra
            if state == "latest":
                argv.append("--upgrade")
            if state == "forcereinstall":
                argv += ["--force-reinstall"]
            if flag(args, "editable"):
                argv.append("-e")
            argv += names
            if args.get("requirements"):
                argv += ["-r", str(args["requirements"])]
            steps.append(argv)
            if missing:
                changes.append("installed " + ", ".join(missing))
    results: List[proc.Proc] = []

    def apply() -> None:
        for argv in steps:
            result = proc.run(argv, cwd=cwd, extra_env=PIP_ENV)
            results.append(result)
            if result.rc != 0:
                raise result.failure(" ".join(argv[:4]), hint=_hint(result.stderr))
    if not changes and steps and (opaque or state in ("latest", "forcereinstall")):
        # Whether an upgrade (or a path pip reads) changes anything is known after pip ran:
        # compare what pip lists before and after.
        if ctx.check:
            outcome = settle(ctx, ["%s of %s" % (state, ", ".join(wanted))], apply)
        else:
            apply()
            after = installed_versions(pip, cwd)
            outcome = settle(ctx, [], lambda: None)
            if after != have or state == "forcereinstall":
                outcome.status = "changed"
                outcome.msg = "%s: %s" % (state, ", ".join(wanted))
    else:
        outcome = settle(ctx, changes, apply)
    last = results[-1] if results else None
    outcome.data = {"cmd": " ".join(shlex.quote(a) for a in steps[-1]) if steps else "",
                    "name": names, "requirements": args.get("requirements"),
                    "version": args.get("version"), "virtualenv": venv, "state": state,
                    "stdout": last.stdout if last else "", "stderr": last.stderr if last else ""}
    return outcome


def _needs_install(requirement: str, have: Mapping[str, str], state: str) -> bool:
    parsed = parse_requirement(requirement)
    if parsed is None:
        return False  # a path, URL or archive: decided by running pip (see run)
    name, clauses = parsed
    return name not in have or not satisfies(have[name], clauses)


def _hint(stderr: str) -> str:
    if "externally-managed-environment" in stderr:
        return "this Python's packages belong to apt: use a virtualenv, the python3-X " \
               "package, or break_system_packages: true"
    if "No matching distribution" in stderr or "Could not find a version" in stderr:
        return "is the package index (or extra_args: --find-links DIR) reachable from the host?"
    return ""


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state", "present") == "absent" and args.get("requirements"):
        return "state: absent takes names, not a requirements file", "list the names"
    if args.get("version") and len(as_list(args.get("name"))) != 1:
        return "version goes with exactly one name", "name: django, version: '4.2'"
    if args.get("editable") and args.get("requirements"):
        return "editable goes with name", "name: /path/to/project, editable: true"
    return None


SPEC = OpSpec(
    name="pip",
    summary="Python packages installed with pip, in a virtualenv made when missing",
    ansible="`pip`",
    args=(
        Arg("name", "names", doc="requirements: names with optional versions "
                                 "(`django>=4.2,<5`), paths, archives or URLs",
            operand="requirement"),
        Arg("version", doc="with one name: exactly this version"),
        Arg("requirements", "abspath", doc="a requirements file on the host"),
        Arg("virtualenv", "abspath", doc="install into this virtualenv, made when missing"),
        Arg("virtualenv_command", default="virtualenv",
            doc="what makes the virtualenv (`python3 -m venv` when `virtualenv` is not "
                "installed)"),
        Arg("virtualenv_python", doc="the Python the virtualenv is made for"),
        Arg("virtualenv_site_packages", "bool", default=False,
            doc="the virtualenv sees the system's packages"),
        Arg("state", default="present", choices=("present", "absent", "latest",
                                                 "forcereinstall"),
            doc="installed (and satisfying the version); removed; upgraded; reinstalled"),
        Arg("extra_args", doc="more pip options (`--index-url URL`, `--find-links DIR`)"),
        Arg("editable", "bool", default=False, doc="install the name (a path or VCS URL) "
                                                   "in development mode (`-e`)"),
        Arg("chdir", "abspath", doc="run pip in this folder"),
        Arg("executable", doc="the pip to run (`pip3.11`), when there is no virtualenv"),
        Arg("break_system_packages", "bool", default=False,
            doc="allow pip to change a Python whose packages apt manages"),
        Arg("umask", doc="accepted for Ansible's tasks: pip runs with the agent's umask"),
    ),
    required=(("name", "requirements"),),
    rule=_rule,
    doc="""\
Installs and removes Python packages with pip, as Ansible's `pip`. What is installed is read
once with `pip list --format=json`; a plain requirement (`name`, `name==1.2`, `name>=1,<2`)
that is installed at a satisfying version is left alone, so a second run is `ok` without
asking the package index. Paths, archives and URLs are handed to pip, which decides, and
`latest` runs `pip install --upgrade`: these are `changed` only when pip's list differs
afterwards (in check mode they count as changes). With `virtualenv`, pip is that
environment's, and the environment is made first when its `bin/python` is missing. The result has `cmd`, `name`, `requirements`, `version`,
`virtualenv`, `stdout` and `stderr`.
""",
    notes="""\
```yaml
- name: the app's Python dependencies
  pip:
    requirements: /srv/app/requirements.txt
    virtualenv: /srv/app/venv
    virtualenv_command: python3 -m venv
```

Notes:

* Not journalled: a rollback leaves what pip installed in place.
* Debian's own Python refuses pip (externally managed): use a virtualenv, or
  `break_system_packages: true` if you mean it.
* Version comparison covers release numbers, pre-, post- and dev releases; local version
  labels (`+abc`) are ignored.
""",
)

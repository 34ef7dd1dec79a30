"""deb822_repository: an apt source in the deb822 format (sources.list.d/NAME.sources)."""
from __future__ import annotations

import os
import re
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, OpError, Outcome, accept, as_list, settle
from ..spec import Arg, OpSpec

SOURCES_DIR = "/etc/apt/sources.list.d"
KEYRINGS = "/etc/apt/keyrings"
KEY_BLOCK = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
# argument -> field, in the order apt's manual lists them (the file is written in this order)
LIST_FIELDS = (("types", "Types"), ("uris", "URIs"), ("suites", "Suites"),
               ("components", "Components"), ("architectures", "Architectures"),
               ("languages", "Languages"), ("targets", "Targets"))
BOOL_FIELDS = (("enabled", "Enabled"), ("pdiffs", "PDiffs"), ("by_hash", "By-Hash"),
               ("allow_insecure", "Allow-Insecure"), ("allow_weak", "Allow-Weak"),
               ("allow_downgrade_to_insecure", "Allow-Downgrade-To-Insecure"),
               ("trusted", "Trusted"), ("check_valid_until", "Check-Valid-Until"),
               ("check_date", "Check-Date"))
TEXT_FIELDS = (("inrelease_path", "InRelease-Path"), ("date_max_future", "Date-Max-Future"))


def slug(name: str) -> str:
    """The file's name from the repository's: lower case, spaces and '_' as '-', other
    characters dropped (`Example Repo` -> example-repo)."""
    return re.sub(r"[^a-z0-9.\-]", "", re.sub(r"[\s_]+", "-", name.strip().lower())).strip("-.")


def render(args: Mapping[str, Any], signed_by: Optional[str]) -> str:
    lines = ["X-Repolib-Name: %s" % args["name"]]
    for arg, field in LIST_FIELDS:
        values = as_list(args.get(arg))
        if values:
            lines.append("%s: %s" % (field, " ".join(values)))
    for arg, field in BOOL_FIELDS:
        if args.get(arg) is not None:
            lines.append("%s: %s" % (field, "yes" if args[arg] else "no"))
    for arg, field in TEXT_FIELDS:
        if args.get(arg) not in (None, ""):
            lines.append("%s: %s" % (field, args[arg]))
    if signed_by:
        if signed_by.lstrip().startswith(KEY_BLOCK):
            # a key inline: continuation lines start with a space, an empty line is " ."
            block = [(" " + l) if l.strip() else " ." for l in signed_by.strip().splitlines()]
            lines.append("Signed-By:")
            lines.extend(block)
        else:
            lines.append("Signed-By: %s" % signed_by)
    return "\n".join(lines) + "\n"


def fetch_key(url: str, timeout: float = 30.0) -> bytes:
    """An armored or binary key from a URL (https, or http for a repository of one's own)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http[s] only)
            data = answer.read(1 << 20)
    except Exception as exc:  # urllib raises many kinds; all mean "no key"
        raise OpError("deb822_repository: fetching the key %s failed: %s" % (url, exc),
                      hint="is the URL reachable from the host?")
    if not data:
        raise OpError("deb822_repository: the key at %s is empty" % url)
    return data


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("deb822_repository: %s" % problem[0], hint=problem[1])
    name = slug(str(args["name"]))
    path = os.path.join(SOURCES_DIR, name + ".sources")
    before = fileio.read_file(path)
    signed_by = args.get("signed_by")
    key_path = None
    key_data = None
    if signed_by and re.match(r"^https?://", str(signed_by)):
        key_data = fetch_key(str(signed_by))
        key_path = os.path.join(KEYRINGS, name + (".asc" if key_data.startswith(b"-----")
                                                  else ".gpg"))
        signed_by = key_path
    changes: List[str] = []
    applies = []
    diff = ""
    if args["state"] == "absent":
        for victim in [path] + ([key_path] if key_path else
                                [os.path.join(KEYRINGS, name + s) for s in (".asc", ".gpg")]):
            if fileio.read_file(victim) is not None:
                changes.append("%s removed" % victim)
                applies.append(_remover(ctx, victim))
        if ctx.diff and before is not None:
            diff = fileio.unified_diff(before, None, path)
        content = None
    else:
        content = render(args, signed_by).encode()
        if key_path and key_data is not None and fileio.read_file(key_path) != key_data:
            changes.append("key %s written" % key_path)
            applies.append(lambda: _write_key(ctx, key_path, key_data))
        if before != content:
            changes.append("%s %s" % (path, "written" if before is None else "updated"))
            mode = args.get("mode") or "0644"
            applies.append(lambda: fileio.atomic_write(
                fileio.write_target(path), content, mode, journal=ctx.journal))
            if ctx.diff:
                diff = fileio.unified_diff(before, content, path)

    def apply() -> None:
        for step in applies:
            step()
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = {"dest": path, "key_filename": key_path,
                    "repo": content.decode() if content is not None else None}
    return outcome


def _write_key(ctx: Context, path: str, data: bytes) -> None:
    if safepath.lstat(KEYRINGS) is None:  # apt 2.4+ ships it; older hosts may not have it
        ctx.keep(KEYRINGS)
        safepath.makedirs(KEYRINGS, 0o755)
    fileio.atomic_write(fileio.write_target(path), data, "0644", journal=ctx.journal)


def _remover(ctx: Context, path: str):  # type: ignore[no-untyped-def]
    def remove() -> None:
        ctx.keep(path)
        safepath.remove(path)
    return remove


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if not slug(str(args.get("name") or "")):
        return "name %r makes no file name" % args.get("name"), \
            "letters, digits, '-' or '.' in the name"
    if args.get("state", "present") == "present":
        for arg in ("uris", "suites"):
            if not as_list(args.get(arg)):
                return "%s is required with state: present" % arg, \
                    "uris: https://host/debian, suites: bookworm"
        suites = as_list(args.get("suites"))
        if not as_list(args.get("components")) and not all(s.endswith("/") for s in suites):
            return "components are required unless every suite is an exact path " \
                   "(ending in '/')", "components: main"
    for word in ("types",):
        bad = [t for t in as_list(args.get(word)) if t not in ("deb", "deb-src")]
        if bad:
            return "types: %s is not deb or deb-src" % ", ".join(bad), "types: [deb]"
    for arg in ("uris", "suites", "components", "architectures"):
        if any("\n" in v or " " in v for v in as_list(args.get(arg))):
            return "%s: one word per item" % arg, "give a list"
    return None


SPEC = OpSpec(
    name="deb822_repository",
    summary="an apt source in deb822 format (sources.list.d/NAME.sources), with its key",
    ansible="`deb822_repository`",
    args=(
        Arg("name", doc="the repository's name: the file is sources.list.d/SLUG.sources, SLUG "
                        "being the name in lower case with spaces and '_' as '-'"),
        Arg("types", "names", default="deb", doc="`deb` and/or `deb-src`"),
        Arg("uris", "names", doc="the repository's URIs"),
        Arg("suites", "names", doc="suites (`bookworm`), or an exact path ending in `/`"),
        Arg("components", "names", doc="components (`main`)"),
        Arg("signed_by", doc="the key: a URL (fetched by the host into "
                             "/etc/apt/keyrings/SLUG.asc), an armored key block (written "
                             "inline), or a path to a keyring on the host"),
        Arg("architectures", "names", doc="architectures (`amd64`)"),
        Arg("languages", "names", doc="translation languages"),
        Arg("targets", "names", doc="download targets"),
        Arg("enabled", "bool", doc="`Enabled:` (left out means yes)"),
        Arg("trusted", "bool", doc="`Trusted:` (no signature check: a local test repository)"),
        Arg("pdiffs", "bool", doc="`PDiffs:`"),
        Arg("by_hash", "bool", doc="`By-Hash:`"),
        Arg("allow_insecure", "bool", doc="`Allow-Insecure:`"),
        Arg("allow_weak", "bool", doc="`Allow-Weak:`"),
        Arg("allow_downgrade_to_insecure", "bool", doc="`Allow-Downgrade-To-Insecure:`"),
        Arg("check_valid_until", "bool", doc="`Check-Valid-Until:`"),
        Arg("check_date", "bool", doc="`Check-Date:`"),
        Arg("date_max_future", "int", doc="`Date-Max-Future:` (seconds)"),
        Arg("inrelease_path", doc="`InRelease-Path:`"),
        Arg("mode", "octal", doc="the file's mode (default 0644)"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="present: the file says exactly this; absent: the file and its fetched key "
                "are removed"),
        Arg("install_python_debian", "bool",
            doc="accepted for Ansible's tasks: nothing extra is needed on the host"),
    ),
    required=(("name",),),
    rule=_rule,
    journalled=True,
    doc="""\
Writes one apt source in the deb822 format, as Ansible's `deb822_repository`: the file
`/etc/apt/sources.list.d/SLUG.sources` holds exactly the fields given (`X-Repolib-Name`,
`Types`, `URIs`, `Suites`, `Components`, `Signed-By`, ...), and is replaced atomically
(journalled) when it says anything else. A `signed_by` URL is fetched by the host into
`/etc/apt/keyrings/SLUG.asc` (`.gpg` for a binary key); an armored key is written inline.
The step is `changed` when the file or the key changed. apt's lists are not updated: follow
with `apt: update_cache: true` (or `notify` a handler), as with Ansible. The result has
`dest`, `key_filename` and `repo` (the file's text).
""",
    notes="""\
```yaml
- name: the project's own repository
  deb822_repository:
    name: example
    uris: https://apt.example.org/debian
    suites: bookworm
    components: main
    signed_by: https://apt.example.org/key.asc
```

Notes:

* A key URL is fetched at every run to compare it with the kept copy: it is the host that
  fetches it, so it must reach the URL.
""",
)

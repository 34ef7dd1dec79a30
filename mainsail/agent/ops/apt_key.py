"""apt_key: an OpenPGP key apt trusts, kept as a file (apt-key itself is gone from Debian 13)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import urllib.request
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, OpError, Outcome, accept, settle
from ..spec import Arg, OpSpec

TRUSTED_DIR = "/etc/apt/trusted.gpg.d"
PUBLIC_KEY, PUBLIC_SUBKEY = 6, 14


def dearmor(data: bytes) -> bytes:
    """The binary packets of an ASCII-armored key block (binary data is returned as is)."""
    text = data.decode("ascii", "replace")
    if "-----BEGIN PGP" not in text:
        return data
    body: List[str] = []
    inside = headers = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-----BEGIN PGP"):
            inside = headers = True
            continue
        if line.startswith("-----END PGP"):
            break
        if not inside:
            continue
        if headers:  # "Version: ..." lines end at the first empty line
            if not line:
                headers = False
            elif ":" not in line:
                headers = False
                body.append(line)
            continue
        if line.startswith("="):  # the CRC-24 line
            continue
        body.append(line)
    try:
        return base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        raise OpError("apt_key: the key's armor is not valid base64")


def packets(data: bytes) -> List[Tuple[int, bytes]]:
    """(tag, body) of each OpenPGP packet (RFC 4880 section 4.2, old and new formats)."""
    out = []
    pos = 0
    while pos < len(data):
        head = data[pos]
        if not head & 0x80:
            raise OpError("apt_key: this is not an OpenPGP key (bad packet header)")
        if head & 0x40:  # new format
            tag = head & 0x3F
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 2:pos + 6], "big"), pos + 6
            else:
                raise OpError("apt_key: partial-length packets do not occur in keys")
        else:
            tag = (head >> 2) & 0x0F
            kind = head & 0x03
            if kind == 3:
                length, pos = len(data) - pos - 1, pos + 1
            else:
                size = (1, 2, 4)[kind]
                length = int.from_bytes(data[pos + 1:pos + 1 + size], "big")
                pos += 1 + size
        if pos + length > len(data):
            raise OpError("apt_key: the key is cut short")
        out.append((tag, data[pos:pos + length]))
        pos += length
    return out


def key_groups(data: bytes) -> List[List[str]]:
    """Per primary key in ``data``: its fingerprint then its subkeys' (upper-case hex)."""
    groups: List[List[str]] = []
    for tag, body in packets(dearmor(data)):
        if tag not in (PUBLIC_KEY, PUBLIC_SUBKEY) or not body:
            continue
        version = body[0]
        if version == 4:
            digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()
        elif version in (5, 6):
            prefix = b"\x9a" if version == 5 else b"\x9b"
            digest = hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest()
        else:
            continue  # v3 keys: long obsolete, apt refuses them too
        if tag == PUBLIC_KEY:
            groups.append([digest.upper()])
        elif groups:
            groups[-1].append(digest.upper())
    if not groups:
        raise OpError("apt_key: no public key in the data", hint="is it a public key block?")
    return groups


def fingerprints(data: bytes) -> List[str]:
    """Every fingerprint in ``data``, primary keys first within their group."""
    return [p for group in key_groups(data) for p in group]


def matches(fingerprint: str, key_id: str) -> bool:
    """Ansible's ids: the long (16) or short (8) id, or the whole fingerprint."""
    return fingerprint.endswith(normal_id(key_id))


def normal_id(key_id: str) -> str:
    return re.sub(r"\s", "", key_id).upper().replace("0X", "", 1) if key_id else ""


def keyring_files(keyring: Optional[str]) -> List[str]:
    if keyring:
        return [keyring]
    files = ["/etc/apt/trusted.gpg"]
    try:
        files += [os.path.join(TRUSTED_DIR, n) for n in sorted(os.listdir(TRUSTED_DIR))
                  if n.endswith((".gpg", ".asc"))]
    except OSError:
        pass
    return files


def holding(key_id: str, keyring: Optional[str]) -> List[Tuple[str, int]]:
    """(file, how many primary keys it holds) for each keyring file that holds ``key_id``."""
    out = []
    for path in keyring_files(keyring):
        data = fileio.read_file(path)
        if not data:
            continue
        try:
            groups = key_groups(data)
        except OpError:
            continue  # not ours to judge: apt reads it or complains itself
        if any(matches(p, key_id) for group in groups for p in group):
            out.append((path, len(groups)))
    return out


def key_data(args: Mapping[str, Any]) -> bytes:
    if args.get("data"):
        return str(args["data"]).encode()
    if args.get("file"):
        data = fileio.read_file(str(args["file"]))
        if data is None:
            raise OpError("apt_key: %s does not exist on the host" % args["file"])
        return data
    url = str(args["url"])
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (http[s] only)
            return answer.read(1 << 20)
    except Exception as exc:  # urllib raises many kinds; all mean "no key"
        raise OpError("apt_key: fetching %s failed: %s" % (url, exc),
                      hint="is the URL reachable from the host?")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("apt_key: %s" % problem[0], hint=problem[1])
    key_id = normal_id(str(args.get("id") or ""))
    keyring = args.get("keyring")
    if args["state"] == "absent":
        found = holding(key_id, keyring)
        mixed = [path for path, count in found if count > 1]
        if mixed:
            raise OpError("apt_key: %s holds other keys besides %s: not removed"
                          % (", ".join(mixed), key_id),
                          hint="remove the file itself (file: state=absent) if you mean it")
        changes = ["%s removed (holds %s)" % (path, key_id) for path, _ in found]

        def remove_all() -> None:
            for path, _ in found:
                _remove(ctx, path)
        return settle(ctx, changes, remove_all)
    if key_id and holding(key_id, keyring):
        outcome = settle(ctx, [], lambda: None)
        outcome.data = {"fp": key_id, "key_id": key_id[-16:]}
        return outcome
    data = key_data(args)
    prints = fingerprints(data)
    if key_id and not any(matches(p, key_id) for p in prints):
        raise OpError("apt_key: the key fetched has fingerprint %s, not id %s"
                      % (prints[0], key_id), hint="check the id, or the key's source")
    target = keyring or os.path.join(
        TRUSTED_DIR, prints[0][-16:] + (".asc" if data.lstrip().startswith(b"-----") else ".gpg"))
    before = fileio.read_file(target)
    if before is not None:
        try:
            if set(prints) <= set(fingerprints(before)):
                outcome = settle(ctx, [], lambda: None)
                outcome.data = {"fp": prints[0], "key_id": prints[0][-16:]}
                return outcome
        except OpError:
            pass
    outcome = settle(ctx, ["key %s written to %s" % (prints[0], target)],
                     lambda: fileio.atomic_write(fileio.write_target(target), data, "0644",
                                                 journal=ctx.journal))
    outcome.data = {"fp": prints[0], "key_id": prints[0][-16:]}
    return outcome


def _remove(ctx: Context, path: str) -> None:
    ctx.keep(path)
    safepath.remove(path)


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    state = args.get("state", "present")
    if args.get("keyserver"):
        return "keyserver is not supported: keys come from a URL, a file or data", \
            "give the key's URL (url:) and its id"
    sources = [n for n in ("url", "data", "file") if args.get(n)]
    if state == "absent" and not args.get("id"):
        return "state: absent needs the key's id", "id: the fingerprint or its last 16 digits"
    if state == "present" and not sources and not args.get("id"):
        return "nothing to add", "give url, data or file (and the id)"
    if len(sources) > 1:
        return "give one of url, data and file, not %s" % " and ".join(sources), ""
    if args.get("id") and not re.match(r"^(0[xX])?[0-9A-Fa-f\s]{8,}$", str(args["id"])):
        return "id %r is not a key id" % args["id"], "the fingerprint, or its last 16 or 8 digits"
    return None


SPEC = OpSpec(
    name="apt_key",
    summary="an OpenPGP key apt trusts, kept as a file in /etc/apt/trusted.gpg.d",
    ansible="`apt_key`",
    args=(
        Arg("id", doc="the key's fingerprint, or its last 16 (or 8) hex digits"),
        Arg("url", doc="where the host fetches the key"),
        Arg("data", "text", doc="the key itself (armored)"),
        Arg("file", "abspath", doc="a key file on the host"),
        Arg("keyring", "abspath", doc="the file to keep the key in (default: "
                                      "/etc/apt/trusted.gpg.d/LONGID.asc)"),
        Arg("keyserver", doc="not supported: give `url`"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="present: some trusted keyring holds the key; absent: the files holding it "
                "are removed"),
        Arg("validate_certs", "bool", doc="accepted for Ansible's tasks: certificates are "
                                          "always checked"),
    ),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps an OpenPGP key trusted by apt, as Ansible's `apt_key`, without `apt-key` (deprecated,
and gone from Debian 13): the key is a file in `/etc/apt/trusted.gpg.d` (or `keyring`).
Key files are read in Python and their fingerprints computed (OpenPGP v4, v5 and v6 keys),
so a step with an `id` that some keyring already holds is `ok` without fetching anything.
Otherwise the key is taken from `url` (fetched by the host), `data` or `file`, checked
against `id`, and written atomically (journalled). `absent` removes each file of
`/etc/apt/trusted.gpg.d` that holds the key, and refuses a file that holds other keys too.
The result has `fp` and `key_id`.
""",
    notes="""\
```yaml
- name: the project repository's signing key
  apt_key:
    url: https://apt.example.org/key.asc
    id: 4D64FEC119C2029067D6E791F8D2585B8783D481
```

Notes:

* Prefer `deb822_repository` with `signed_by`: a key in trusted.gpg.d is trusted for every
  repository, a `signed_by` key only for its own.
* Keys in the legacy `/etc/apt/trusted.gpg` count as present, and are never rewritten.
""",
)

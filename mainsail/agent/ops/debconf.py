"""debconf: one answer in the debconf database (read with debconf-show,
set with debconf-set-selections), so package installs run unattended."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from .. import facts, proc
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, settle
from ..spec import Arg, OpSpec

PASSWORDS_DAT = "/var/cache/debconf/passwords.dat"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name, question, vtype = str(args["name"]), str(args["question"]), str(args["vtype"])
    value = normalize(vtype, args.get("value"))
    if "\n" in value:
        raise OpError("debconf: value must be a single line")
    current = current_value(name, question, vtype)
    if current is not None and normalize(vtype, current) == value:
        return settle(ctx, [], lambda: None)
    shown = "(hidden)" if vtype == "password" else repr(value)
    before = "(hidden)" if vtype == "password" else repr(current)
    line = "%s %s %s %s\n" % (name, question, vtype, value)
    return settle(ctx, ["%s: %s -> %s" % (question, before, shown)],
                  lambda: _set_selection(line))


def normalize(vtype: str, value: Any) -> str:
    """Compare like debconf stores: booleans as true/false, multiselect sorted."""
    if value is None:
        return ""
    if vtype == "boolean":
        text = str(value).strip().lower()
        return "true" if text in ("true", "yes", "on", "1") else "false"
    if vtype == "multiselect":
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        return ", ".join(sorted(str(i).strip() for i in items if str(i).strip()))
    return str(value)


def parse_debconf_show(text: str) -> Dict[str, str]:
    """'* question: value' lines (the star marks questions already asked)."""
    out = {}
    for line in text.splitlines():
        body = line[2:] if line[:2] in ("* ", "  ") else line.strip()
        question, sep, value = body.partition(":")
        if sep and question and " " not in question:
            out[question] = value[1:] if value.startswith(" ") else value
    return out


def parse_passwords_dat(text: str) -> Dict[str, str]:
    """debconf's password store: RFC 822-like stanzas with Name: and Value:."""
    out = {}
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "Name" in fields:
            out[fields["Name"]] = fields.get("Value", "")
    return out


def current_value(name: str, question: str, vtype: str) -> Optional[str]:
    """The stored answer, None when unknown (so it is set)."""
    if vtype == "password":
        # debconf-show prints '(password omitted)'; the store is readable by root
        text = facts.read_text(PASSWORDS_DAT)
        return parse_passwords_dat(text).get(question) if text else None
    result = proc.run(["debconf-show", name], extra_env=proc.C_LOCALE)
    if result.rc == 127:
        raise MissingPrerequisite("debconf-show not found", hint="install the debconf package")
    return parse_debconf_show(result.stdout).get(question)


def _set_selection(line: str) -> None:
    result = proc.run(["debconf-set-selections"], stdin=line)
    if result.rc != 0:
        raise result.failure("debconf-set-selections")


SPEC = OpSpec(
    name='debconf',
    summary="an answer to a package's installation question",
    ansible='`debconf`',
    args=(
        Arg('name', aliases=('pkg',), doc='the package the question belongs to'),
        Arg('question', aliases=('selection', 'setting'), doc='the question, e.g. `postfix/main_mailer_type`'),
        Arg('vtype', choices=('boolean', 'error', 'multiselect', 'note', 'password', 'seen', 'select', 'string', 'text', 'title'), doc="the question's type"),
        Arg('value', 'debconf_value', aliases=('answer',), doc='the answer, on one line; a list (for `multiselect`) is joined with `, `'),
    ),
    required=(('name',), ('question',), ('vtype',), ('value',)),
    doc="""\
Sets an answer in the debconf database before a package asks for it, so that its installation
runs unattended (apt always installs non-interactively). The current answer is read with
`debconf-show NAME` (a password from `/var/cache/debconf/passwords.dat`, readable by root
only) and compared the way debconf stores it: booleans as `true`/`false`, multiselect values
sorted. When it differs it is set with `debconf-set-selections`, and the message says
`QUESTION: 'old' -> 'new'` (passwords show as `(hidden)`).
""",
    notes="""\
```yaml
- name: postfix is an internet site
  debconf:
    name: postfix
    question: postfix/main_mailer_type
    vtype: select
    value: Internet Site

- name: postfix mail name
  debconf:
    name: postfix
    question: postfix/mailname
    vtype: string
    value: "{{ site_domain }}"

- name: mail server packages
  apt:
    name: postfix
```

Notes:

* A package's question names and types are in its debconf templates: on a host where the
  package is installed, `debconf-get-selections` (package `debconf-utils`) lists them.
* Answers set after the package is installed only matter when it is reconfigured; set them
  before the `apt` task.
* Check mode: the answer is read and compared, nothing is set. No diff.
* Ansible differences: all four arguments are required, and `unseen` is not available.
""",
)

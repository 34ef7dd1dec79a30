"""debconf: one answer in the debconf database (read with debconf-show,
set with debconf-set-selections), so package installs run unattended."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from .. import facts, proc
from ..core import OK, Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec

PASSWORDS_DAT = "/var/cache/debconf/passwords.dat"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name = str(args["name"])
    if args.get("question") is None:  # a query: the package's answers, as `current`
        return Outcome(OK, "", data={"current": show(name)})
    if args.get("vtype") is None or args.get("value") is None and args["vtype"] != "seen":
        raise OpError("debconf: parameters are required together: question, vtype, value")
    question, vtype = str(args["question"]), str(args["vtype"])
    value = normalize(vtype, args.get("value"))
    if "\n" in value:
        raise OpError("debconf: value must be a single line")
    current = current_value(name, question, vtype)
    answers = {} if vtype == "password" else {question: current} if current is not None else {}
    if current is not None and normalize(vtype, current) == value:
        return _with(settle(ctx, [], lambda: None), answers)
    shown = "(hidden)" if vtype == "password" else repr(value)
    before = "(hidden)" if vtype == "password" else repr(current)
    line = "%s %s %s %s\n" % (name, question, vtype, value)
    unseen = flag(args, "unseen")
    return _with(settle(ctx, ["%s: %s -> %s" % (question, before, shown)],
                        lambda: _set_selection(line, unseen)), answers)


def _with(outcome: Outcome, answers: Dict[str, str]) -> Outcome:
    outcome.data = dict(outcome.data or {}, current=answers)  # Ansible's result field
    return outcome


def show(name: str) -> Dict[str, str]:
    """Every answer debconf has for the package (``debconf-show``)."""
    result = proc.run(["debconf-show", name], extra_env=proc.C_LOCALE)
    if result.rc == 127:
        raise MissingPrerequisite("debconf-show not found", hint="install the debconf package")
    return parse_debconf_show(result.stdout)


def normalize(vtype: str, value: Any) -> str:
    """Compare like debconf stores: booleans as true/false, a multiselect list sorted (a
    string is taken as written, as Ansible does)."""
    if value is None:
        return ""
    if vtype == "boolean":
        text = str(value).strip().lower()
        return "true" if text in ("true", "yes", "on", "1") else "false"
    if vtype == "multiselect" and isinstance(value, (list, tuple)):
        return ", ".join(sorted(str(i).strip() for i in value if str(i).strip()))
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
    return show(name).get(question)


def _set_selection(line: str, unseen: bool = False) -> None:
    """Set one answer; ``unseen``: ``-u``, so the question is not marked as seen (a later
    configuration of the package still asks it), as Ansible passes it."""
    result = proc.run(["debconf-set-selections"] + (["-u"] if unseen else []), stdin=line)
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
        Arg('unseen', 'bool', default=False, doc="set the answer without marking the question as seen (`debconf-set-selections -u`): an interactive configuration still asks it"),
    ),
    required=(('name',),),
    doc="""\
Without `question`, reads the package's answers (`current`, a mapping; nothing changes).
With `question`, `vtype` and `value` (given together, as in Ansible), sets an answer in the debconf database before a package asks for it, so that its installation
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
* `unseen: true` sets the answer with `debconf-set-selections -u`: the question is not marked
  as seen, so a later interactive `dpkg-reconfigure` still asks it (with the answer as its
  default). It changes only how an answer is set, never whether it is: a matching answer is
  left alone, as in Ansible.
""",
)

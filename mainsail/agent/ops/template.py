"""template: a file rendered from a Jinja2 template on the controller, applied by copy."""
from __future__ import annotations

from ..spec import Arg, OpSpec, Ships
from . import copy

SPEC = OpSpec(
    name='template',
    summary='a file rendered from a Jinja2 template',
    ansible='`template`',
    args=(
        Arg('src', doc="a template in the role's `templates/`, else in the project's `templates/`"),
        Arg('dest', 'abspath', doc='the file on the host'),
        Arg('validate', 'checker', doc='a check of the rendered file before it replaces the old one: `CMD %s`'),
        Arg('mode', 'octal', doc='the permissions'),
        Arg('owner', doc='the owning user'),
        Arg('group', doc='the owning group'),
        Arg('force', 'bool', doc='replace an existing file whose content differs (default `true`); `false`: only create a missing one'),
        Arg('backup', 'bool', doc='keep the old file beside it as `DEST.PID.DATE@TIME~` (result: `backup_file`)'),
        copy.SPEC.arg('follow'),  # applied by copy: one definition
    ),
    required=(('src',), ('dest',)),
    ships=Ships('template', source='src', digest=copy.SPEC.ships.digest if copy.SPEC.ships else ''),
    journalled=True,
    runs_as='copy',
    doc="""\
Renders a Jinja2 template on the controller with the host's variables, then does exactly what
[`copy`](#copy) does with the result: compares digests, writes atomically after `validate`,
sets owner, group and mode. Rendering happens when the plan is built, before anything runs on
any host: an undefined variable or a template error stops the run with the template's
file:line (see [templates and expressions](playbooks.md#templates-and-expressions) for the
filters, `ansible_managed` and includes).
""",
    notes="""\
```yaml
- name: ssh daemon configuration
  template:
    src: sshd_config.j2
    dest: /etc/ssh/sshd_config
    owner: root
    group: root
    mode: "0644"
    validate: /usr/sbin/sshd -t -f %s
  notify: reload ssh

- name: virtual host per site
  template:
    src: vhost.conf.j2
    dest: "/etc/apache2/sites-available/{{ item.name }}.conf"
    mode: "0644"
  loop: "{{ apache_sites }}"
  notify: reload apache
```

Notes:

* The rendered text is written as UTF-8 and keeps the template's trailing newline.
* Check mode and `--diff`: as for `copy`; the diff compares the host's file with the newly
  rendered text.
* `follow`: as for `copy`. A `dest` that is a link: `follow: false` replaces the link with the
  rendered file (Ansible's default); left out or `true`, the file it points to is written.
* Ansible differences: `newline_sequence`, `block_start_string` and the other Jinja2 options
  are not available; a `dest` link is followed when `follow` is left out (Ansible replaces
  it); the template runs in a sandbox and `lookup()` is not
  available.
""",
)

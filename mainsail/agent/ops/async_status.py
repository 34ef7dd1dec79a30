"""async_status: the state of a job an ``async`` task with ``poll: 0`` started."""
from __future__ import annotations

import os
from typing import Any, Mapping

from .. import asyncjob
from ..core import CHANGED, FAILED, OK, Context, OpError, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    jid = str(args["jid"])
    record = asyncjob.read(jid)
    if record is None:
        raise OpError("could not find job %s" % jid,
                      hint="jobs are kept per user: run async_status with the async "
                           "task's become / become_user")
    if args.get("mode") == "cleanup":
        if not ctx.check:
            os.unlink(asyncjob.job_path(jid))
        return Outcome(OK, "job %s cleaned up" % jid,
                       data={"ansible_job_id": jid, "erased": record.get("results_file")})
    if not record.get("finished"):
        return Outcome(OK, "job %s is still running" % jid, data=record)
    status = FAILED if record.get("failed") else CHANGED if record.get("changed") else OK
    return Outcome(status, str(record.get("msg") or ""), rc=record.get("rc"),
                   stdout=str(record.get("stdout") or ""),
                   stderr=str(record.get("stderr") or ""), cmd=record.get("cmd"), data=record)


SPEC = OpSpec(
    name='async_status',
    summary='the state (and, once done, the result) of a job started with async and poll: 0',
    ansible='`async_status`',
    args=(
        Arg('jid', doc='the job id (`ansible_job_id` of the async task\'s registered result)'),
        Arg('mode', default='status', choices=('status', 'cleanup'),
            doc='`status`: read it; `cleanup`: remove its job file'),
    ),
    required=(('jid',),),
    doc="""\
Reads the job file an `async` task with `poll: 0` left (in `~/.mainsail/async` of the user it
ran as): `finished` is 0 while it runs; once done, the result has the job's own fields
(`rc`, `stdout`, `changed`, `failed`, ...) and the step is `changed` or `failed` as the job
was. Polled with `until: job.finished` / `retries` / `delay` on the host, each poll costs no
round trip. Never changes anything but its own job file (`mode: cleanup`).
""",
    notes="""\
```yaml
- name: a long upgrade in the background
  command: /usr/local/bin/rebuild-index
  async: 600
  poll: 0
  register: rebuild

- name: wait for it
  async_status:
    jid: "{{ rebuild.ansible_job_id }}"
  register: done
  until: done.finished
  retries: 60
  delay: 10
```
""",
)

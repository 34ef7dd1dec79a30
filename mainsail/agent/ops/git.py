"""git: a checkout of a git repository at a branch, tag or commit (or a bare clone of it).

Everything in ``dest`` is written by git itself (clone, fetch, checkout, submodule update):
the op decides what is needed, then runs git, always as an argv list. git's writes are not
atomic as a whole and are not journalled, so a failed transaction leaves the checkout where
git left it. Deciding reads the checkout and asks the server only what it must: a commit that
is already there needs no network at all, a branch or tag one ``git ls-remote``, and objects are
fetched only when the checkout has to move.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .. import fileio, proc, safepath
from ..core import (CHANGED, OK, Context, MissingPrerequisite, OpError, Outcome, accept,
                    as_bool, flag, operand)
from ..spec import Arg, OpSpec

# How git runs here: messages in one language to read, no prompt ever (stdin is /dev/null and
# there is no terminal), and `git status` never writes the index (check mode reads only).
GIT_ENV = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0",
           "GIT_OPTIONAL_LOCKS": "0"}
MASK = "********"
HEXISH = re.compile(r"[0-9a-fA-F]{4,64}")
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
ARCHIVE_FORMATS = ((".tar.gz", "tar.gz"), (".tgz", "tgz"), (".tar", "tar"), (".zip", "zip"),
                   (".gz", "tar.gz"))
MAX_ARCHIVE = 512 << 20  # an archive is compared and written in memory: bounded
# ssh options that would stop checking the server's host key.
UNCHECKED_KEYS = re.compile(r"stricthostkeychecking\s*[= ]\s*[\"']?(no|off|accept-new)\b|"
                            r"userknownhostsfile\s*[= ]\s*[\"']?/dev/null", re.I)
HOST_KEY_HINT = ("Mainsail keeps host keys checked, an unknown one is never added: pin the git "
                 "server's key on the host first (known_hosts: name: git.example.org, "
                 "key: ..., after checking its fingerprint)")
HEAD, BRANCH, TAG, COMMIT = "HEAD", "branch", "tag", "commit"


@dataclass
class Target:
    """What ``version`` names: its kind, the branch to be on (HEAD and branches), the commit
    (None while only a fetch can tell) and whether a tag is annotated."""

    kind: str
    name: str
    sha: Optional[str] = None
    branch: str = ""
    annotated: bool = False


class Git:
    """git run with one executable and environment. ``secrets`` are masked in the command
    line it reports; ``run`` masks them in messages and output as well."""

    def __init__(self, exe: str, env: Dict[str, str], secrets: List[str]) -> None:
        self.exe = exe
        self.env = env
        self.secrets = secrets

    def run(self, argv: List[str], cwd: Optional[str] = None) -> proc.Proc:
        return proc.run([self.exe] + argv, cwd=cwd, extra_env=self.env, secrets=self.secrets)

    def out(self, argv: List[str], cwd: Optional[str] = None, what: str = "") -> str:
        result = self.run(argv, cwd)
        if result.rc != 0:
            raise result.failure("git: " + (what or " ".join(argv[:2])), _hint(result.stderr))
        return result.stdout

    def line(self, argv: List[str], cwd: Optional[str]) -> Optional[str]:
        """The first line git prints, or None when it fails (a ref that does not exist)."""
        result = self.run(argv, cwd)
        text = result.stdout.strip()
        return text.splitlines()[0] if result.rc == 0 and text else None

    def commit(self, dest: str, rev: str) -> Optional[str]:
        """The commit ``rev`` names in the local repository, or None."""
        return self.line(["rev-parse", "--verify", "--quiet", rev + "^{commit}"], dest)

    def has_ref(self, dest: str, ref: str) -> bool:
        return self.line(["rev-parse", "--verify", "--quiet", ref], dest) is not None

    def remote_refs(self, repo: str, patterns: List[str]) -> Tuple[Dict[str, str], str]:
        """{ref: sha} of the server's refs matching ``patterns`` (exact names), and the branch
        its HEAD points at ('' when it does not say): one round trip, no objects."""
        text = self.out(["ls-remote", "--symref", "--", repo] + patterns,
                        what="ls-remote (asking %s for its refs)" % masked_url(repo))
        refs: Dict[str, str] = {}
        head_branch = ""
        for line in text.splitlines():
            first, _, name = line.partition("\t")
            if first.startswith("ref: ") and name == "HEAD":
                head_branch = _short_branch(first[5:])
            elif name:
                refs[name] = first
        return refs, head_branch


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("git: %s" % problem[0], hint=problem[1])
    repo = _repo_url(operand("git", "repo", args["repo"]))
    for name in ("version", "remote", "refspec"):
        if args.get(name) is not None:
            operand("git", name, args[name])
    secrets = url_secrets(repo)
    try:
        git = Git(_executable(args), _environment(args), secrets)
        with _umask(args.get("umask")):
            outcome = _run(ctx, args, git, repo)
    except OpError as exc:
        for name in ("msg", "hint", "cmd", "stdout", "stderr"):
            if getattr(exc, name):
                setattr(exc, name, mask(getattr(exc, name), secrets))
        raise
    outcome.msg = mask(outcome.msg, secrets)
    return outcome


def _run(ctx: Context, args: Mapping[str, Any], git: Git, repo: str) -> Outcome:
    dest = str(args["dest"]) if args.get("dest") else ""
    bare = flag(args, "bare")
    data: Dict[str, Any] = {"before": None, "after": None, "remote_url_changed": False}
    warnings: List[str] = []
    gitdir = _git_dir(dest, bare) if dest else None
    if gitdir is None:
        outcome = _fresh(ctx, args, git, repo, dest, data, warnings)
    elif not flag(args, "update"):
        # Ansible's update: false: a repository is there, whatever it holds; nothing is asked.
        data["before"] = data["after"] = git.commit(dest, "HEAD")
        outcome = Outcome(OK, "%s is a repository at %s; not updated (update: false)"
                          % (dest, _short(data["before"])))
    elif bare:
        outcome = _update_bare(ctx, args, git, repo, dest, data)
    else:
        outcome = _update(ctx, args, git, repo, dest, gitdir, data, warnings)
    if args.get("archive"):
        _archive(ctx, args, git, dest, data, outcome)
    if warnings:
        data["warnings"] = warnings
    outcome.data = data
    return outcome


# ---------------------------------------------------------------------------- a new clone

def _fresh(ctx: Context, args: Mapping[str, Any], git: Git, repo: str, dest: str,
           data: Dict[str, Any], warnings: List[str]) -> Outcome:
    """No repository at dest: clone it, or (clone: false, check mode) say what is there."""
    if dest and safepath.kind(dest) not in ("absent", "directory"):
        raise OpError("git: dest %s exists and is not a folder" % dest,
                      hint="dest names the folder to check out into")
    if dest and flag(args, "clone") and safepath.kind(dest) == "directory" and \
            safepath.listdir(dest):
        raise OpError("git: dest %s is not empty and holds no %srepository" % (
            dest, "bare " if flag(args, "bare") else ""),
            hint="a clone needs an empty (or missing) folder: move what is there away, or "
                 "point dest elsewhere")
    target = _remote_target(git, repo, args, head_branch="")
    data["after"] = target.sha or target.name
    if args.get("separate_git_dir") and flag(args, "clone"):
        _parent_exists(str(args["separate_git_dir"]))
    if not flag(args, "clone"):
        return Outcome(OK, "not cloned (clone: false); %s is at %s"
                       % (target.name, _short(data["after"])))
    what = "cloned %s (%s) into %s" % (masked_url(repo), target.name, dest)
    diff = fileio.state_diff(dest, "absent", str(data["after"])) if ctx.diff else ""
    if ctx.check:
        return Outcome(CHANGED, what, diff)
    ours = [dest] + ([os.path.realpath(str(args["separate_git_dir"]))]
                     if args.get("separate_git_dir") else [])
    made = [path for path in ours if not os.path.lexists(path)]
    try:
        _clone(git, args, repo, dest, target, warnings)
        if not flag(args, "bare"):
            _settle_checkout(git, args, dest, target)
    except Exception:
        # A clone whose version cannot be checked out (or verified) is taken away again: left
        # there, the next run would take its empty work tree for local modifications.
        _remove_clone(dest, made)
        raise
    if not flag(args, "bare"):
        _submodules(git, args, dest)  # a failure here is retried by the next run
    data["after"] = git.commit(dest, "HEAD")
    diff = fileio.state_diff(dest, "absent", str(data["after"])) if ctx.diff else ""
    return Outcome(CHANGED, what, diff)


def _remove_clone(dest: str, made: List[str]) -> None:
    """What a failed clone left: the folders it made, or what it put in a folder that was
    there (and empty) before."""
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
    if dest not in made and safepath.kind(dest) == "directory":
        for name in safepath.listdir(dest):
            target = os.path.join(dest, name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)


def _clone(git: Git, args: Mapping[str, Any], repo: str, dest: str, target: Target,
           warnings: List[str]) -> None:
    remote = str(args["remote"])
    bare = flag(args, "bare")
    argv = ["clone", "--bare"] if bare else ["clone", "--no-checkout", "--origin", remote]
    depth = _depth(args)
    named = target.kind in (BRANCH, TAG)
    if depth:
        if target.kind == HEAD or named or args.get("refspec"):
            argv += ["--depth", str(depth)]
        else:
            warnings.append("Ignoring depth argument. Shallow clones are only available for "
                            "HEAD, branches, tags or in combination with refspec.")
            depth = 0
    if flag(args, "single_branch"):
        argv.append("--single-branch")
    if named and (depth or flag(args, "single_branch")):
        argv += ["--branch", target.name]
    if args.get("reference"):
        argv += ["--reference", str(args["reference"])]
    if args.get("separate_git_dir"):
        argv.append("--separate-git-dir=%s" % os.path.realpath(str(args["separate_git_dir"])))
    # git makes dest and the folders above it that are missing, as Ansible's module does.
    git.out(argv + ["--", repo, dest], what="clone")
    if bare and remote != "origin":
        git.out(["remote", "rename", "origin", remote], dest, what="remote rename")
    if args.get("refspec"):
        git.out(["fetch"] + (["--depth", str(depth)] if depth else []) +
                ["--", remote, str(args["refspec"])], dest, what="fetch of the refspec")


# ---------------------------------------------------------------------------- an update

def _update(ctx: Context, args: Mapping[str, Any], git: Git, repo: str, dest: str,
            gitdir: str, data: Dict[str, Any], warnings: List[str]) -> Outcome:
    remote = str(args["remote"])
    force = flag(args, "force")
    mods = _local_mods(git, dest)
    if mods and not force:  # Ansible's words, also in check mode
        raise OpError("Local modifications exist in the destination: %s (force=no)." % dest,
                      hint="commit or discard them on the host, or set force: true to "
                           "discard them", stdout="\n".join(mods[:20]))
    before = git.commit(dest, "HEAD")
    data["before"] = before
    current_url = git.line(["config", "--get", "remote.%s.url" % remote], dest)
    url_changed = current_url is None or not same_url(current_url, repo)
    on_branch = git.line(["symbolic-ref", "--quiet", "--short", "HEAD"], dest) or ""
    target = _local_target(git, args, dest) or \
        _remote_target(git, repo, args, head_branch=on_branch)
    changes: List[str] = []
    moved = _separate_git_dir(git, args, dest, gitdir, data, changes)
    if url_changed:
        changes.append("remote %s set to %s" % (remote, masked_url(repo)))
    if mods:
        changes.append("local modifications discarded")
    wanted_branch = target.branch if target.kind in (HEAD, BRANCH) else ""
    switch = target.sha is None or target.sha != before or \
        (wanted_branch != "" and wanted_branch != on_branch)
    if switch and target.sha == before:
        changes.append("on branch %s (was a detached HEAD at %s)" % (wanted_branch,
                                                                     _short(before)))
    elif switch:
        changes.append("%s -> %s (%s)" % (_short(before), _short(target.sha or target.name),
                                          _version_words(target)))
    submodules = flag(args, "recursive") and not switch and _submodules_behind(git, dest)
    if submodules:
        changes.append("submodules updated")
    data["remote_url_changed"] = url_changed
    data["after"] = (target.sha or target.name) if switch else before
    if not changes:
        return Outcome(OK, "already at %s (%s)" % (_short(before), _version_words(target)))
    diff = fileio.state_diff(dest, str(before), str(data["after"])) \
        if ctx.diff and data["after"] != before else ""
    if ctx.check:
        if submodules:
            data["submodules_changed"] = True
        return Outcome(CHANGED, ", ".join(changes), diff)
    if moved:
        moved()
    if url_changed:
        verb = "add" if current_url is None else "set-url"
        git.out(["remote", verb, "--", remote, repo], dest, what="remote %s" % verb)
    if mods:
        git.out(["reset", "--hard", "HEAD"], dest, what="reset of local modifications")
    if switch:
        present = target.sha is not None and git.commit(dest, target.sha) is not None and \
            not _tracking_stale(git, dest, remote, target)
        if not present:
            _fetch(git, args, dest, target, warnings)
        _settle_checkout(git, args, dest, target)
    if flag(args, "recursive") and (switch or submodules):
        data["submodules_changed"] = _submodules(git, args, dest)
    data["after"] = git.commit(dest, "HEAD")
    if ctx.diff and data["after"] != before:
        diff = fileio.state_diff(dest, str(before), str(data["after"]))
    return Outcome(CHANGED, ", ".join(changes), diff)


def _update_bare(ctx: Context, args: Mapping[str, Any], git: Git, repo: str, dest: str,
                 data: Dict[str, Any]) -> Outcome:
    """A bare clone is up to date when it holds every branch and tag of the server (with
    single_branch: the one branch it has) as the server has it: compared with one ls-remote,
    fetched only when something differs."""
    remote = str(args["remote"])
    before = git.commit(dest, "HEAD")
    data["before"] = before
    current_url = git.line(["config", "--get", "remote.%s.url" % remote], dest)
    url_changed = current_url is None or not same_url(current_url, repo)
    head_ref = git.line(["symbolic-ref", "--quiet", "HEAD"], dest) or ""
    single = flag(args, "single_branch") and head_ref != ""
    text = git.out(["ls-remote"] + ([] if single else ["--heads", "--tags"]) +
                   ["--", repo] + ([head_ref] if single else []),
                   what="ls-remote (asking %s for its refs)" % masked_url(repo))
    theirs = dict((name, sha) for sha, _, name in (line.partition("\t")
                                                   for line in text.splitlines())
                  if name.startswith(("refs/heads/", "refs/tags/")) and
                  not name.endswith("^{}") and (not single or name == head_ref))
    ours = dict(line.split(" ", 1)[::-1] for line in git.out(
        ["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags"],
        dest).splitlines() if " " in line)
    stale = sorted(name for name, sha in theirs.items() if ours.get(name) != sha)
    data["remote_url_changed"] = url_changed
    data["after"] = theirs.get(head_ref, before)
    changes = (["remote %s set to %s" % (remote, masked_url(repo))] if url_changed else []) + \
        (["%d refs fetched" % len(stale)] if stale else [])
    if not changes:
        return Outcome(OK, "all %d branches and tags up to date" % len(theirs))
    diff = fileio.state_diff(dest, str(before), str(data["after"])) \
        if ctx.diff and data["after"] != before else ""
    if ctx.check:
        return Outcome(CHANGED, ", ".join(changes), diff)
    if url_changed:
        verb = "add" if current_url is None else "set-url"
        git.out(["remote", verb, "--", remote, repo], dest, what="remote %s" % verb)
    if stale:
        depth = _depth(args)
        specs = ["+%s:%s" % (head_ref, head_ref)] if single else \
            ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        git.out(["fetch"] + (["--depth", str(depth)] if depth else []) +
                (["--force"] if flag(args, "force") else []) + ["--", remote] + specs +
                ([str(args["refspec"])] if args.get("refspec") else []), dest, what="fetch")
    data["after"] = git.commit(dest, "HEAD")
    if ctx.diff and data["after"] != before:
        diff = fileio.state_diff(dest, str(before), str(data["after"]))
    return Outcome(CHANGED, ", ".join(changes), diff)


def _local_mods(git: Git, dest: str) -> List[str]:
    """Changed tracked files (untracked ones do not count, as in Ansible)."""
    return git.out(["status", "--porcelain", "--untracked-files=no"], dest,
                   what="status").splitlines()


def _separate_git_dir(git: Git, args: Mapping[str, Any], dest: str, gitdir: str,
                      data: Dict[str, Any], changes: List[str]) -> Any:
    """The move of the repository to ``separate_git_dir`` when it is elsewhere: an apply
    function, or None when nothing is to move."""
    if not args.get("separate_git_dir"):
        return None
    wanted = os.path.realpath(str(args["separate_git_dir"]))
    now = os.path.realpath(gitdir)
    if wanted == now:
        return None
    if os.path.lexists(wanted):
        raise OpError("Separate-git-dir path %s already exists." % wanted,
                      hint="remove it, or point separate_git_dir at the repository's "
                           "current place (%s)" % now)
    _parent_exists(wanted)
    changes.append("repository moved from %s to %s" % (now, wanted))
    data.update(git_dir_before=now, git_dir_now=wanted)

    def move() -> None:
        # git moves the repository itself and leaves a `.git` file pointing at it.
        git.out(["init", "--quiet", "--separate-git-dir=" + wanted], dest,
                what="moving the repository to %s" % wanted)
    return move


# ---------------------------------------------------------------------------- what version is

def _local_target(git: Git, args: Mapping[str, Any], dest: str) -> Optional[Target]:
    """A commit given by its SHA that the repository already holds: known without asking the
    server (a branch or tag of that name is left to the server to resolve)."""
    version = str(args["version"])
    if not HEXISH.fullmatch(version):
        return None
    remote = str(args["remote"])
    for ref in ("refs/heads/", "refs/tags/", "refs/remotes/%s/" % remote):
        if git.has_ref(dest, ref + version):
            return None
    sha = git.commit(dest, version)
    if sha is None or not sha.startswith(version.lower()):
        return None
    return Target(COMMIT, version, sha)


def _remote_target(git: Git, repo: str, args: Mapping[str, Any], head_branch: str) -> Target:
    """``version`` resolved by the server: HEAD (the branch checked out, else the server's
    default branch), a branch, a tag (its commit), or else a commit to fetch."""
    version = str(args["version"])
    if version == "HEAD":
        patterns = ["HEAD"] + (["refs/heads/" + head_branch] if head_branch else [])
        refs, default = git.remote_refs(repo, patterns)
        branch = head_branch or default
        sha = refs.get("refs/heads/" + head_branch) if head_branch else refs.get("HEAD")
        if sha is None:
            raise OpError("git: could not determine remote revision for HEAD: %s" % (
                "branch %s is not on the server" % branch if branch else
                "the repository has no commits"),
                hint="give version: the branch, tag or commit to check out")
        return Target(HEAD, version, sha, branch=branch)
    refs, _ = git.remote_refs(repo, ["refs/heads/" + version, "refs/tags/" + version,
                                     "refs/tags/%s^{}" % version])
    if "refs/heads/" + version in refs:
        return Target(BRANCH, version, refs["refs/heads/" + version], branch=version)
    if "refs/tags/" + version in refs:
        peeled = refs.get("refs/tags/%s^{}" % version)
        return Target(TAG, version, peeled or refs["refs/tags/" + version],
                      annotated=peeled is not None)
    if FULL_SHA.fullmatch(version.lower()):
        return Target(COMMIT, version, version.lower())
    if HEXISH.fullmatch(version) or args.get("refspec"):
        return Target(COMMIT, version)  # known once fetched
    raise OpError("git: version %r is neither a branch nor a tag of %s"
                  % (version, masked_url(repo)),
                  hint="check the name; a commit is given by its SHA, and refspec: fetches "
                       "other refs")


def _version_words(target: Target) -> str:
    if target.kind == HEAD:
        return "HEAD of branch %s" % target.branch
    return "%s %s" % (target.kind, target.name)


def _tracking_stale(git: Git, dest: str, remote: str, target: Target) -> bool:
    """A branch is checked out from its remote-tracking ref: fetch when that lags."""
    if target.kind not in (HEAD, BRANCH):
        return False
    ref = "refs/remotes/%s/%s" % (remote, target.branch)
    return git.line(["rev-parse", "--verify", "--quiet", ref], dest) != target.sha


# ---------------------------------------------------------------------------- fetch, checkout

def _fetch(git: Git, args: Mapping[str, Any], dest: str, target: Target,
           warnings: List[str]) -> None:
    remote = str(args["remote"])
    depth = _depth(args)
    specs: List[str] = []
    if target.kind in (HEAD, BRANCH):
        specs.append("+refs/heads/%s:refs/remotes/%s/%s" % (target.branch, remote,
                                                            target.branch))
    elif target.kind == TAG:
        specs.append("+refs/tags/%s:refs/tags/%s" % (target.name, target.name))
    if args.get("refspec"):
        specs.append(str(args["refspec"]))
    argv = ["fetch"]
    if depth and specs:
        argv += ["--depth", str(depth)]
    elif depth:
        warnings.append("Ignoring depth argument: a commit is fetched with its history")
    if not depth and not flag(args, "single_branch"):
        argv.append("--tags")  # every tag, as Ansible fetches them (not into one branch)
    if flag(args, "force"):
        argv.append("--force")
    git.out(argv + ["--", remote] + specs, dest, what="fetch")
    if target.kind == COMMIT and git.commit(dest, target.sha or target.name) is None and \
            FULL_SHA.fullmatch((target.sha or "")):
        # Not on any branch or tag fetched: servers that allow it hand out a commit by SHA.
        git.run(["fetch", "--", remote, str(target.sha)], dest)


def _settle_checkout(git: Git, args: Mapping[str, Any], dest: str, target: Target) -> None:
    """Check the target out: a branch as a local branch following the remote's, a tag or a
    commit as a detached HEAD. The commit's signature is verified before anything moves."""
    remote = str(args["remote"])
    sha = git.commit(dest, target.sha or target.name)
    if sha is None:
        raise OpError("Failed to checkout %s" % target.name,
                      hint="the commit is not on a branch or tag of the repository: give "
                           "refspec: naming the ref that holds it")
    if flag(args, "verify_commit"):
        _verify(git, args, dest, target, sha)
    if target.kind in (HEAD, BRANCH) and target.branch:
        argv = ["checkout", "--force", "-B", target.branch, "--track",
                "refs/remotes/%s/%s" % (remote, target.branch)]
        if not git.has_ref(dest, "refs/remotes/%s/%s" % (remote, target.branch)):
            argv = ["checkout", "--force", "-B", target.branch, sha]
    else:
        argv = ["checkout", "--force", "--detach", sha]
    git.out(argv + ["--"], dest, what="checkout of %s" % target.name)


def _verify(git: Git, args: Mapping[str, Any], dest: str, target: Target, sha: str) -> None:
    """A GPG-signed commit (an annotated tag's own signature for a tag), checked before it is
    checked out; with gpg_allowlist, its key must be one of those listed."""
    allow = [str(f).replace(" ", "").upper() for f in (args.get("gpg_allowlist") or [])]
    if target.kind == TAG and target.annotated:
        argv = ["verify-tag"] + (["--raw"] if allow else []) + ["--", target.name]
    else:
        argv = ["verify-commit"] + (["--raw"] if allow else []) + ["--", sha]
    result = git.run(argv, dest)
    if result.rc != 0:
        raise OpError('Failed to verify GPG signature of commit/tag "%s"' % target.name,
                      hint="the commit must be signed by a key in the GPG keyring of the "
                           "user the task runs as", rc=result.rc, stdout=result.stdout,
                      stderr=result.stderr)
    if allow:
        fingerprint = _gpg_fingerprint(result.stderr)
        if fingerprint not in allow:
            raise OpError('The gpg_allowlist does not include the public key "%s" for this '
                          'commit' % fingerprint, stderr=result.stderr)


def _gpg_fingerprint(status: str) -> str:
    """The primary key's fingerprint from gpg's status lines (``[GNUPG:] VALIDSIG ...``)."""
    for line in status.splitlines():
        words = line.split()
        if len(words) > 2 and words[1] == "VALIDSIG":
            return words[11] if len(words) >= 12 else words[2]
    return ""


def _submodules_behind(git: Git, dest: str) -> bool:
    """A submodule not checked out, or not at the commit the project records."""
    if not os.path.exists(os.path.join(dest, ".gitmodules")):
        return False
    text = git.out(["submodule", "status", "--recursive"], dest, what="submodule status")
    return any(line[:1] in ("-", "+", "U") for line in text.splitlines())


def _submodules(git: Git, args: Mapping[str, Any], dest: str) -> bool:
    """Submodules at the commits the project records (recursive: true); whether any moved."""
    if not flag(args, "recursive") or not os.path.exists(os.path.join(dest, ".gitmodules")):
        return False
    status = ["submodule", "status", "--recursive"]
    before = git.out(status, dest, what="submodule status")
    git.out(["submodule", "sync", "--recursive"], dest, what="submodule sync")
    git.out(["submodule", "update", "--init", "--recursive"] +
            (["--force"] if flag(args, "force") else []), dest, what="submodule update")
    return git.out(status, dest, what="submodule status") != before


# ---------------------------------------------------------------------------- archive

def _archive(ctx: Context, args: Mapping[str, Any], git: Git, dest: str,
             data: Dict[str, Any], outcome: Outcome) -> None:
    """``git archive`` of the checked-out commit, written atomically (and journalled) when it
    differs from the file already there."""
    path = str(args["archive"])
    fmt = next(f for ext, f in ARCHIVE_FORMATS if path.endswith(ext))
    rev = str(args["version"]) if flag(args, "bare") else str(data.get("after") or "HEAD")
    if ctx.check and (not dest or _git_dir(dest, flag(args, "bare")) is None or
                      git.commit(dest, str(rev)) is None):
        _add_change(outcome, "archive %s written" % path)
        return
    folder = tempfile.mkdtemp(prefix="mainsail-git-")
    try:
        scratch = os.path.join(folder, "archive")
        argv = ["archive", "--format", fmt, "--output", scratch]
        if args.get("archive_prefix"):
            argv += ["--prefix", str(args["archive_prefix"])]
        git.out(argv + [str(rev), "--"], dest, what="archive")
        if os.path.getsize(scratch) > MAX_ARCHIVE:
            raise OpError("git: the archive of %s is larger than %d MiB" % (
                _short(str(rev)), MAX_ARCHIVE >> 20), hint="archive a smaller repository, "
                                                           "or run git archive with command:")
        with open(scratch, "rb") as fh:
            content = fh.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if safepath.kind(os.path.dirname(path)) != "directory":
        raise MissingPrerequisite("git: the folder of archive %s does not exist" % path,
                                  hint=fileio.MISSING_PARENT_HINT)
    if fileio.read_file(path) == content:
        return
    _add_change(outcome, "archive %s written" % path)
    if not ctx.check:
        fileio.atomic_write(path, content, journal=ctx.journal)


def _add_change(outcome: Outcome, change: str) -> None:
    outcome.msg = change if outcome.status == OK else "%s, %s" % (outcome.msg, change)
    outcome.status = CHANGED


# ---------------------------------------------------------------------------- the host

def _executable(args: Mapping[str, Any]) -> str:
    wanted = str(args.get("executable") or "git")
    found = shutil.which(wanted)
    if found is None:
        if args.get("executable"):
            raise MissingPrerequisite("git: executable %s not found on the host" % wanted,
                                      hint="install git first (apt: name: git), or point "
                                           "executable at it")
        raise MissingPrerequisite("git: the git program is not installed on the host",
                                  hint="install git first (apt: name: git)")
    return found


def _environment(args: Mapping[str, Any]) -> Dict[str, str]:
    """git's environment; ssh runs with BatchMode (no prompt) and the task's key and options.
    GIT_SSH_COMMAND is read by a shell, so every word is quoted."""
    if args.get("key_file") and safepath.kind(str(args["key_file"])) == "absent":
        raise MissingPrerequisite("git: key_file %s does not exist" % args["key_file"],
                                  hint="put the deploy key on the host first (copy: with "
                                       "mode: '0600')")
    env = dict(GIT_ENV)
    words = ["-o", "BatchMode=yes"]
    if args.get("key_file"):
        words += ["-i", str(args["key_file"]), "-o", "IdentitiesOnly=yes"]
    try:
        words += shlex.split(str(args.get("ssh_opts") or ""))
    except ValueError as exc:
        raise OpError("git: ssh_opts cannot be split into words: %s" % exc)
    base = os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH") or "ssh"
    env["GIT_SSH_COMMAND"] = " ".join([base] + [shlex.quote(w) for w in words])
    return env


@contextlib.contextmanager
def _umask(value: Any) -> Iterator[None]:
    """Ansible's umask for everything git writes; the agent's own comes back after."""
    if value in (None, ""):
        yield
        return
    old = os.umask(int(str(value), 8))
    try:
        yield
    finally:
        os.umask(old)


def _git_dir(dest: str, bare: bool) -> Optional[str]:
    """The repository folder of the checkout at dest (a `.git` folder, or the folder a `.git`
    file points at; dest itself when bare), or None when dest holds none."""
    if safepath.kind(dest) != "directory":
        return None
    if bare:
        return dest if os.path.isfile(os.path.join(dest, "HEAD")) else None
    dotgit = os.path.join(dest, ".git")
    if os.path.isfile(dotgit):
        with open(dotgit, encoding="utf-8", errors="replace") as fh:
            text = fh.read().strip()
        if not text.startswith("gitdir: "):
            raise OpError("git: %s is not a valid reference to a separate git folder" % dotgit,
                          hint="it should hold one line: gitdir: PATH")
        dotgit = os.path.join(dest, text[len("gitdir: "):])
        if not os.path.isdir(dotgit):
            raise OpError("git: %s points at %s, which is not a folder" % (
                os.path.join(dest, ".git"), dotgit))
    return dotgit if os.path.isfile(os.path.join(dotgit, "HEAD")) else None


def _parent_exists(path: str) -> None:
    """git makes the repository folder, not the folders above it."""
    folder = os.path.dirname(path.rstrip("/"))
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("git: the folder of separate_git_dir %s does not exist"
                                  % path, hint=fileio.MISSING_PARENT_HINT)


def _depth(args: Mapping[str, Any]) -> int:
    return int(args.get("depth") or 0)


def _short(sha: Optional[str]) -> str:
    if not sha:
        return "nothing"
    return sha[:12] if FULL_SHA.fullmatch(sha) else sha


def _short_branch(ref: str) -> str:
    return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref


def _hint(stderr: str) -> str:
    text = stderr.lower()
    if "dubious ownership" in text:
        return "the repository belongs to another user: run the task as that user " \
               "(become_user: OWNER)"
    if "host key verification failed" in text:
        return "the git server's host key is not known on the host: add it with known_hosts " \
               "after checking its fingerprint"
    if "permission denied (publickey" in text:
        return "the server refused the host's SSH key: give key_file: the deploy key"
    if "terminal prompts disabled" in text or "could not read username" in text:
        return "the server asks for credentials: use an SSH URL with key_file, or a " \
               "credential helper"
    if "could not resolve host" in text:
        return "the host cannot resolve the git server's name"
    if "not an empty directory" in text:
        return "dest must be empty (or absent) for a clone"
    return ""


# ---------------------------------------------------------------------------- URLs

def _repo_url(repo: str) -> str:
    """A local path as a file:// URL: shallow clones need it (as Ansible does)."""
    path = os.path.expanduser(repo)
    return "file://" + path if path.startswith("/") else repo


def url_secrets(url: str) -> List[str]:
    """What must not be shown of a URL: its password, and for HTTP(S) a user name alone
    (a token is often given as one)."""
    try:
        parts = urllib.parse.urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return []
    found = [unquoted for raw in (password,) if raw
             for unquoted in (raw, urllib.parse.unquote(raw))]
    if username and not password and re.fullmatch(r"https?", parts.scheme, re.I):
        found += [username, urllib.parse.unquote(username)]
    return sorted(set(s for s in found if s), key=len, reverse=True)


def masked_url(url: str) -> str:
    return mask(url, url_secrets(url))


def mask(text: str, secrets: List[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def same_url(have: str, want: str) -> bool:
    """Two spellings of one repository: equal, or the same local path (file:// or not)."""
    if have == want:
        return True
    local = [u[len("file://"):] if u.startswith("file://") else u for u in (have, want)]
    if all(os.path.isabs(os.path.expanduser(p)) for p in local):
        return os.path.realpath(os.path.expanduser(local[0])) == \
            os.path.realpath(os.path.expanduser(local[1]))
    return False


# ---------------------------------------------------------------------------- declaration

def _truthy(value: Any) -> bool:
    try:
        return value is not None and as_bool(value)
    except OpError:
        return False  # a template not yet rendered: judged again once it is


def _over_ssh(repo: Any) -> bool:
    """Whether git may reach ``repo`` over SSH, where a host key is checked (ssh://, or
    scp's user@host:path). A local path, file://, https:// have no host key: Ansible's
    accept_hostkey means nothing there, so it is taken and ignored. A name still a template
    is judged once rendered."""
    text = str(repo or "").strip()
    if not text or "{" in text:
        return not text
    if re.match(r"(ssh|git\+ssh|ssh\+git)://", text):
        return True
    if "://" in text or text.startswith(("/", ".", "~")):
        return False
    return re.match(r"[^/]+:", text) is not None


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    clone = args.get("clone")
    if not args.get("dest") and (clone is None or _truthy(clone)):
        return "the destination directory must be specified unless clone=no", \
            "add dest: the folder to check out into"
    for name, what in (("accept_hostkey", "turn off the check of"),
                       ("accept_newhostkey", "trust on first sight")):
        if _truthy(args.get(name)) and _over_ssh(args.get("repo")):
            return "%s: true would %s the git server's SSH host key: refused" % (name, what), \
                HOST_KEY_HINT
    if UNCHECKED_KEYS.search(str(args.get("ssh_opts") or "")):
        return "ssh_opts would turn off the check of the git server's SSH host key: " \
               "refused", HOST_KEY_HINT
    if _truthy(args.get("track_submodules")):
        return "track_submodules: true is not supported", \
            "record the submodules' new commits in the repository (git submodule update " \
            "--remote, then commit), or run that with command: after this task"
    if args.get("separate_git_dir") and _truthy(args.get("bare")):
        return "separate_git_dir and bare exclude each other", "a bare clone has no work tree"
    if args.get("archive_prefix") and not args.get("archive"):
        return "archive_prefix goes with archive", "add archive: /path/NAME.tar.gz"
    archive = str(args.get("archive") or "")
    if archive and "{" not in archive and not archive.endswith(
            tuple(ext for ext, _ in ARCHIVE_FORMATS)):
        return "archive %r has no known extension" % archive, \
            "end it in .zip, .tar.gz, .tgz, .tar or .gz"
    umask = args.get("umask")
    if umask not in (None, "") and not re.fullmatch(r"[0-7]{1,4}", str(umask)):
        return "umask %r is not an octal number" % umask, "e.g. '0022' (quoted)"
    depth = args.get("depth")
    if isinstance(depth, int) and depth < 0:
        return "depth must be 1 or more", "leave depth out for the whole history"
    return None


SPEC = OpSpec(
    name="git",
    summary="a git checkout at a branch, tag or commit (or a bare clone)",
    ansible="`git`",
    args=(
        Arg("repo", aliases=("name",), operand="repository URL",
            doc="the repository: an SSH (`git@host:org/app.git`), HTTPS or `file://` URL, or "
                "a path on the host"),
        Arg("dest", "abspath", doc="the folder to check out into (made when missing; must be "
                                   "empty for a clone); needed unless `clone: false`"),
        Arg("version", default="HEAD", operand="version",
            doc="what to check out: `HEAD` (the branch checked out, or the server's default "
                "branch), a branch, a tag, or a commit's full or short SHA"),
        Arg("force", "bool", default=False,
            doc="discard local modifications of tracked files (otherwise the step fails)"),
        Arg("depth", "int", doc="a shallow clone of this many commits (HEAD, branches, tags, "
                                "or with `refspec`)"),
        Arg("clone", "bool", default=True,
            doc="`false`: never clone; only say what `version` is on the server"),
        Arg("update", "bool", default=True,
            doc="`false`: a repository already at dest is left as it is (nothing fetched)"),
        Arg("remote", default="origin", operand="remote name", doc="the remote's name"),
        Arg("refspec", operand="refspec",
            doc="one more refspec to fetch (`refs/pull/*/head:refs/pr/*`): for a commit "
                "that no branch or tag holds"),
        Arg("bare", "bool", default=False, doc="a bare clone (no work tree): every branch "
                                               "and tag, kept equal to the server's"),
        Arg("single_branch", "bool", default=False,
            doc="clone only the history of `version`'s branch or tag"),
        Arg("recursive", "bool", default=True,
            doc="check submodules out too, at the commits the project records"),
        Arg("track_submodules", "bool", default=False,
            doc="refused when true: submodules follow the commits the project records"),
        Arg("reference", doc="a local repository to borrow objects from "
                             "(`git clone --reference`)"),
        Arg("umask", "octal", doc="the umask git runs with (`'0022'`): the mode of what it "
                                  "writes"),
        Arg("accept_hostkey", "bool", default=False,
            doc="refused when true: the git server's host key is always checked"),
        Arg("accept_newhostkey", "bool", default=False,
            doc="refused when true: an unknown server key is never trusted on sight"),
        Arg("key_file", "abspath", doc="the private key (on the host) ssh uses for the "
                                       "server, and only it"),
        Arg("ssh_opts", doc="more ssh options (`-o Port=2222`), split into words like a "
                            "shell would, never run by one"),
        Arg("executable", doc="the git to run (default: `git` on the PATH)"),
        Arg("archive", "abspath", doc="also write `git archive` of the checkout here "
                                      "(`.zip`, `.tar.gz`, `.tgz` or `.tar`)"),
        Arg("archive_prefix", doc="a folder prefix for every path in the archive "
                                  "(`app/`)"),
        Arg("verify_commit", "bool", default=False,
            doc="check the commit's GPG signature (an annotated tag's own) before it is "
                "checked out"),
        Arg("gpg_allowlist", "names", aliases=("gpg_whitelist",),
            doc="with `verify_commit`: the key fingerprints accepted"),
        Arg("separate_git_dir", "abspath",
            doc="keep the repository in this folder; dest gets a `.git` file pointing at it "
                "(an existing one is moved there)"),
    ),
    required=(("repo",),),
    rule=_rule,
    doc="""\
Keeps a git checkout at the version a task names: Ansible's `git`. Without a repository at
`dest`, it is cloned (git makes missing folders above it) and `version` checked out: a branch as
a local branch following the remote's, a tag or a commit as a detached HEAD. With one, the step
compares what is checked out with what `version` names: a commit (full or short SHA) that the
repository already holds is judged without the network; a branch, a tag or `HEAD` takes one
`git ls-remote`, and objects are fetched only when the checkout has to move. A second run that
finds nothing to move is `ok`. A checkout whose tracked files were changed on the host fails
(Ansible's "Local modifications exist in the destination: ...") unless `force: true`, which
discards them. A remote URL that differs from `repo` is set again (`remote_url_changed`).
Submodules are checked out at the commits the project records (`recursive`). The result has
Ansible's fields: `before` and `after` (commit SHAs; `before` is null for a new clone),
`remote_url_changed`, and when they apply `submodules_changed`, `warnings`, `git_dir_before`
and `git_dir_now`.
""",
    notes="""\
```yaml
- name: the app's code at its release tag
  git:
    repo: git@git.example.org:shop/app.git
    dest: /srv/app
    version: v2.4.1
    key_file: /root/.ssh/deploy_app
    depth: 1

- name: a mirror of the configuration repository
  git:
    repo: https://git.example.org/ops/config.git
    dest: /srv/mirror/config.git
    bare: true

- name: only look at what main is on the server
  git:
    repo: https://git.example.org/shop/app.git
    version: main
    clone: false
  register: upstream
```

Notes:

* Not journalled, not atomic: git writes `dest` itself (a clone, a fetch, a checkout), so a
  rollback of the transaction leaves the checkout as git left it, and a checkout that fails
  part way (a full disk) can leave the work tree between two versions; run the step again
  (with `force: true`) to finish it. A new clone whose `version` cannot be checked out or
  verified is removed again; one interrupted (a step timeout, the agent stopped) can stay
  behind. Only `archive` is written atomically and journalled.
* Check mode touches nothing in the repository (git's `status` runs without taking the index
  lock); it asks the server what `version` is (`ls-remote`) and reports `after` as the
  commit it would check out. Diff: the commit before and after (`absent` for a new clone).
* Host keys stay checked: for a repository reached over SSH, `accept_hostkey: true`,
  `accept_newhostkey: true`, and `ssh_opts`
  that weaken the check (`StrictHostKeyChecking=no` or `accept-new`,
  `UserKnownHostsFile=/dev/null`), are refused. Put the server's key in a known_hosts file
  first (`known_hosts`), after checking its fingerprint. ssh runs with `BatchMode=yes`: it never prompts.
  For a local path, `file://` or `https://` (no host key), `accept_hostkey` means nothing and
  is taken as Ansible takes it there.
* Credentials written in `repo` (`https://user:token@...`) are masked in messages and
  output, but git keeps the URL in `dest/.git/config`: prefer `key_file` or a credential
  helper.
* The agent runs as root; a repository owned by another user makes git stop ("dubious
  ownership"): run the task as that user with `become_user`.
* `version: HEAD` follows the branch that is checked out (the server's default branch for a
  new clone or a detached HEAD), as Ansible does. A SHA that no branch or tag holds is fetched
  by its SHA where the server allows it, else give `refspec`.
* `depth` applies to `HEAD`, branches and tags (or with `refspec`); for a commit it is ignored
  with a warning, as in Ansible.
* Ansible differences: `clone: false` without a repository is `ok` (Ansible says `changed`);
  `track_submodules: true` is refused; `verify_commit` checks the commit before it is checked
  out; `umask` is set for git only.
""",
)

"""copy as Ansible's integration target `copy` checks it: argument checks in Ansible's words,
and the forms its tasks use."""
from __future__ import annotations

import pytest

from mainsail.agent.ops import copy
from mainsail.errors import BadInput
from mainsail.opspec import check_required
from mainsail.agent.core import OpError
from test_agent_support import run_op


@pytest.mark.parametrize("args, words", [
    ({"src": "", "dest": "/tmp/x"}, "src (or content) is required"),
    ({"src": "a", "content": "b", "dest": "/tmp/x"}, "src and content are mutually exclusive"),
    ({"content": "b", "dest": "/tmp/x/"}, "can not use content with a dir as dest"),
])
def test_arguments_are_checked_in_ansibles_words(args, words) -> None:
    with pytest.raises(OpError) as got:
        copy.controller_args(args, "h1", "/proj")
    assert words in got.value.msg


def test_a_left_out_dest_or_src_is_reported_in_ansibles_words() -> None:
    with pytest.raises(BadInput) as got:
        check_required(copy.SPEC, {"src": "foo.txt"})
    assert "dest is required" in str(got.value)
    with pytest.raises(BadInput) as got:
        check_required(copy.SPEC, {"dest": "/tmp/x"})
    assert "src (or content) is required" in str(got.value)


def test_content_to_a_folder_fails_in_ansibles_words(tmp_path) -> None:
    got = run_op("copy", {"content": "x", "dest": str(tmp_path)})
    assert got.status == "failed" and "can not use content with a dir as dest" in got.msg


def test_an_absolute_src_outside_the_project_is_the_controllers_file(tmp_path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    from test_ansible_task_forms import project
    outside = tmp_path / "elsewhere"
    (outside / "tree").mkdir(parents=True)
    (outside / "foo.txt").write_text("foo\n")
    (outside / "tree" / "a.txt").write_text("a\n")
    root = project(tmp_path / "p", {
        "playbooks/site.yml": "- hosts: all\n  tasks:\n"
        f"    - {{name: f, copy: {{src: {outside}/foo.txt, dest: /tmp/x}}}}\n"
        f"    - {{name: d, copy: {{src: {outside}/tree/, dest: /tmp/y}}}}\n"
        f"    - {{name: m, copy: {{src: {outside}/gone, dest: /tmp/y}}}}\n"})
    with pytest.raises(BadInput, match="gone' not found"):
        build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    (outside / "gone").write_text("here\n")
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert plan.steps[0]["args"]["src"] == f"{outside}/foo.txt"
    assert set(plan.steps[1]["args"]["manifest"]) == {"a.txt"}


def test_a_folder_with_looping_and_dangling_links_is_copied_with_them_as_links(tmp_path) -> None:
    import os
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    from test_ansible_task_forms import project
    root = project(tmp_path / "p", {
        "playbooks/site.yml": "- hosts: all\n  tasks:\n"
        "    - {name: d, copy: {src: tree/, dest: /tmp/y}}\n",
        "files/tree/a.txt": "a\n"})
    tree = root / "files" / "tree"
    os.symlink("invalid", tree / "invalid")  # a link onto itself
    os.symlink("../nope", tree / "invalid2")
    os.symlink("a.txt", tree / "b.txt")
    manifest = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {}).steps[0]["args"][
        "manifest"]
    assert manifest["invalid"] == {"link": "invalid"}
    assert manifest["invalid2"] == {"link": "../nope"}
    assert manifest["b.txt"]["sha"] == manifest["a.txt"]["sha"]


def test_a_user_replacing_anothers_file_does_not_try_to_give_it_the_old_owner(
        tmp_path, monkeypatch) -> None:
    import os
    from mainsail.agent import fileio
    (tmp_path / "f").write_text("bar")
    st = os.stat(tmp_path / "f")  # root's, as the target's /tmp/worldwritable/file.txt
    monkeypatch.setattr(os, "geteuid", lambda: 65534)
    monkeypatch.setattr(os, "getegid", lambda: 65534)
    monkeypatch.setattr(os, "getgroups", lambda: [65534])
    assert fileio._final_attrs(st, None, None, None)[1:] == (-1, -1)
    assert fileio._final_attrs(st, None, "0", None)[1] == 0  # asked for: still tried
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert fileio._final_attrs(st, None, None, None)[1:] == (st.st_uid, st.st_gid)


def test_remote_src_expands_vars_and_user_and_is_relative_to_the_login_home(
        tmp_path, monkeypatch) -> None:
    from mainsail.agent.ops import copy as copy_op
    (tmp_path / "foo.txt").write_text("foo\n")
    monkeypatch.setattr(copy_op, "login_home", lambda: str(tmp_path))
    monkeypatch.setenv("COPYMOD_DIR", str(tmp_path))
    got = run_op("copy", {"src": "foo.txt", "dest": str(tmp_path / "a"), "remote_src": True})
    assert got.status == "changed" and (tmp_path / "a").read_text() == "foo\n"
    got = run_op("copy", {"src": "$COPYMOD_DIR/foo.txt", "dest": str(tmp_path / "b"),
                          "remote_src": True})
    assert got.status == "changed" and got.data["src"] == str(tmp_path / "foo.txt")


def test_an_ansible_vault_file_is_copied_decrypted_or_fails_in_ansibles_words(
        tmp_path, monkeypatch) -> None:
    from mainsail import ansible_vault
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    from mainsail.vault import Vault
    from test_ansible_task_forms import project
    sealed = ansible_vault.encrypt(b"the secret text\n", b"pw-pw-pw")
    root = project(tmp_path / "p", {
        "playbooks/site.yml": "- hosts: all\n  tasks:\n"
        "    - {name: f, copy: {src: v.txt, dest: /tmp/x}}\n"
        "    - {name: k, copy: {src: v.txt, dest: /tmp/y, decrypt: false}}\n",
        "files/v.txt": sealed})
    for name in ("MAINSAIL_VAULT_PASSWORD", "MAINSAIL_VAULT_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BadInput, match="A vault password or secret must be specified to "
                                       "decrypt .*/files/v.txt$"):
        build_plan(root, load_playbook(root)[0], Host("web1"), {}, {}, secrets=Vault())
    monkeypatch.setenv("MAINSAIL_VAULT_PASSWORD", "pw-pw-pw")
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {}, secrets=Vault())
    assert plan.blobs[plan.steps[0]["args"]["content_sha"]] == b"the secret text\n"
    assert plan.steps[0]["no_log"]  # the plaintext is a secret of the run
    assert plan.blobs[plan.steps[1]["args"]["content_sha"]] == sealed.encode()


def test_the_registered_diff_is_ansibles_list_of_before_and_after(tmp_path) -> None:
    from mainsail.plan import result_fields
    dest = tmp_path / "file.txt"
    got = run_op("copy", {"content": "Ansible managed\n", "dest": str(dest)}, diff=True)
    assert got.data["diff"] == [{"before_header": str(dest), "after_header": str(dest),
                                 "before": "", "after": "Ansible managed\n"}]
    changed = run_op("copy", {"content": "new\n", "dest": str(dest)}, diff=True)
    assert changed.data["diff"][0]["before"] == "Ansible managed\n"
    fields = result_fields({"status": "changed", "diff": "--- text", "data": changed.data})
    assert fields["diff"][0]["after"] == "new\n"
    assert "diff" not in run_op("copy", {"content": "x\n", "dest": str(dest)}, diff=False).data

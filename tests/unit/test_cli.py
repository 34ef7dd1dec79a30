"""The `mainsail` console script offers the same tasks as `inv`."""

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mainsail", *args], capture_output=True, text=True, timeout=60)


def test_the_console_script_lists_every_task():
    listed = run("--list").stdout
    for name in ("deploy", "plan", "rollback", "run", "put", "get", "ping", "facts", "hosts",
                 "verify", "ssh-config", "testbed.up", "testbed.down", "vault.encrypt"):
        assert name in listed, name


def test_the_console_script_knows_its_version():
    assert run("--version").stdout.startswith("Mainsail ")


def test_a_closed_pipe_is_no_traceback():
    done = subprocess.run("mainsail --list | head -1", shell=True, capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in done.stderr


def test_ssh_config_quotes_paths_with_spaces(tmp_path):
    import paramiko

    from mainsail.inventory import Host
    from mainsail.tasks import ssh_config_block
    folder = tmp_path / "my keys"
    folder.mkdir()
    host = Host("web1", address="127.0.0.5", user="deploy", ssh_key=str(folder / "id key"),
                known_hosts=str(folder / "known hosts"))
    text = ssh_config_block(host)
    assert 'IdentityFile "%s"' % (folder / "id key") in text
    assert 'UserKnownHostsFile "%s" ~/.ssh/known_hosts' % (folder / "known hosts") in text
    config = paramiko.SSHConfig.from_text(text).lookup("web1")
    assert config["identityfile"] == [str(folder / "id key")]


def test_doc_prints_an_operations_reference():
    # In-process: the console script on PATH may belong to another checkout.
    done = subprocess.run([sys.executable, "-c", "import sys; from mainsail.cli import main; "
                           "sys.argv = ['mainsail', 'doc', 'ansible.builtin.lineinfile']; main()"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## line\n") and "| `insertbefore` |" in done.stdout


def test_doc_of_an_unknown_operation_suggests_one():
    done = subprocess.run([sys.executable, "-c", "import sys; from mainsail.cli import main; "
                           "sys.argv = ['mainsail', 'doc', 'tempalte']; main()"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "did you mean 'template'" in done.stderr

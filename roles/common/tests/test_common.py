"""testinfra checks of the common role (run by `inv verify`)."""


def test_base_packages(host, hostvars):
    for name in hostvars["common_packages"]:
        assert host.package(name).is_installed, name


def test_deploy_user(host, hostvars):
    user = host.user(hostvars["common_deploy_user"])
    assert user.exists and user.shell == "/bin/bash"
    keys = host.file("%s/.ssh/authorized_keys" % user.home)
    assert keys.user == user.name and keys.mode == 0o600
    if hostvars["common_deploy_sudo"]:
        assert host.run("visudo -cf /etc/sudoers.d/%s", user.name).rc == 0


def test_hosts_file_names_every_host(host, hostvars):
    hosts = host.file("/etc/hosts").content_string
    assert "%s\t" % hostvars["address"] in hosts
    for name in ("web1", "web2", "mail1", "echo1"):
        assert host.run("getent hosts %s", name).rc == 0, name

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


def test_hosts_file_names_this_host(host, hostvars):
    name, domain = hostvars["inventory_hostname"], hostvars["common_domain"]
    names = [name, "%s.%s" % (name, domain)] if domain else [name]
    for each in names:
        assert host.check_output("getent hosts %s", each).split()[0] == hostvars["address"]

"""testinfra checks of the postfix role (run by `inv verify`)."""


def test_running_and_config_checks(host):
    assert host.process.filter(comm="master")
    assert host.run("postfix check").rc == 0


def test_listens_on_the_host_address_only(host, hostvars):
    assert host.socket("tcp://%s:25" % hostvars["address"]).is_listening
    assert not host.socket("tcp://0.0.0.0:25").is_listening


def test_settings(host, hostvars):
    def conf(name):
        return host.check_output("postconf -h %s", name)
    assert conf("inet_interfaces") == hostvars["address"]
    assert conf("mydomain") == hostvars["postfix_domain"]
    assert hostvars["postfix_domain"] in conf("mydestination").replace("$mydomain",
                                                                      conf("mydomain"))
    networks = conf("mynetworks").split()
    assert "%s/32" % hostvars["address"] in networks
    assert not [n for n in networks if not n.endswith("/32")]  # hosts, never networks
    assert conf("smtpd_relay_restrictions") == "permit_mynetworks, reject_unauth_destination"


def test_keeps_its_own_log(host, hostvars):
    log = host.file(hostvars["postfix_log"])
    assert log.exists and "daemon started" in log.content_string


def test_mailbox_users_and_aliases(host, hostvars):
    for name in hostvars["postfix_users"]:
        assert host.user(name).exists
    for name in hostvars["postfix_aliases"]:
        assert host.run("postalias -q %s hash:/etc/aliases", name).rc == 0, name

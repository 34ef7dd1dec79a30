"""testinfra checks of the apache role (run by `inv verify`)."""

import pytest


def test_running_with_the_event_mpm_and_cgid(host):
    assert host.process.filter(comm="apache2")
    assert "Server MPM:     event" in host.check_output("apache2ctl -V")
    modules = host.check_output("apache2ctl -M")
    assert "cgid_module" in modules and "ssl_module" in modules
    assert "autoindex_module" not in modules and "status_module" not in modules


def test_config_passes_configtest(host):
    assert host.run("apache2ctl configtest").rc == 0


@pytest.mark.parametrize("port", ["apache_http_port", "apache_https_port"])
def test_listens_on_the_host_address_only(host, hostvars, port):
    assert host.socket("tcp://%s:%s" % (hostvars["address"], hostvars[port])).is_listening
    assert not host.socket("tcp://0.0.0.0:%s" % hostvars[port]).is_listening


def test_minimal_tokens_body_limit(host, hostvars):
    conf = host.file("/etc/apache2/conf-enabled/security.conf").content_string
    assert "ServerTokens Prod" in conf and "ServerSignature Off" in conf
    assert "LimitRequestBody %s" % hostvars["apache_limit_request_body"] in conf
    head = host.check_output("curl -sI http://%s/", hostvars["address"])
    assert "Server: Apache\r" in head


def test_each_site_is_enabled_with_a_certificate(host, hostvars):
    for site in hostvars["apache_sites"]:
        assert host.file("/etc/apache2/sites-enabled/%s.conf" % site["name"]).is_symlink
        if "tls_cert" not in site:
            key = host.file("/etc/apache2/tls/%s.key" % site["name"])
            assert key.user == "root" and key.mode == 0o600
        page = host.run("curl -sk -o /dev/null -w '%%{http_code}' -H 'Host: %s' https://%s/",
                        site["server_name"], hostvars["address"])
        assert page.stdout in ("200", "403", "404")

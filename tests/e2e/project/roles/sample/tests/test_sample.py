"""testinfra checks of the sample role, run by `inv verify --playbook=every_op`."""


def test_config_is_rendered_for_this_host(host, hostvars):
    conf = host.file("/srv/sample/app.conf")
    assert conf.exists and conf.mode == 0o640 and conf.group == "sample"
    assert "listen = %s:%s" % (hostvars["address"], hostvars["sample_port"]) in conf.content_string


def test_supervised_program_runs_as_its_user(host):
    status = host.run("supervisorctl status sampled")
    assert "RUNNING" in status.stdout
    assert any(p.user == "sampleuser" for p in host.process.filter(comm="sleep"))

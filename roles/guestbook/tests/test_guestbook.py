"""testinfra checks of the guestbook role (run by `inv verify`)."""


def test_program_installed(host):
    program = host.file("/usr/local/lib/guestbook/current/guestbook.py")
    assert program.user == "root" and program.mode == 0o755


def test_data_folder_belongs_to_the_cgi_user(host, hostvars):
    data = host.file(hostvars["guestbook_data_dir"])
    assert data.is_directory and data.user == hostvars["guestbook_user"] and data.mode == 0o750


def test_page_is_served_and_the_database_uses_wal(host, hostvars):
    page = host.run("curl -s -w '\\n%%{http_code}' http://%s%s",
                    hostvars["address"], hostvars["guestbook_path"])
    assert page.stdout.endswith("\n200") and hostvars["guestbook_title"] in page.stdout
    # Bytes 18 and 19 of an SQLite file are 2 in WAL mode. Read them without opening the
    # database: a root-owned -shm file would lock the CGI user out.
    db = "%s/guestbook.db" % hostvars["guestbook_data_dir"]
    header = host.check_output("od -An -tu1 -j18 -N2 %s", db).split()
    assert header == ["2", "2"]
    assert host.file(db).user == hostvars["guestbook_user"]

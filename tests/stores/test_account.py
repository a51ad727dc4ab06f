"""``hubfs login | logout | register | config``: the config file is 0600 and secrets are never printed."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys

import pytest

from hubfs.cli.main import main
from hubfs.dataset import namespace
from hubfs.dataset.stores import filesystem_for

SECRET = "Sup3r-S3cret/Value+42"


@pytest.fixture(autouse=True)
def _quick_failures(monkeypatch):
    """Logins to closed ports check the root once, not with the default retries."""
    monkeypatch.setenv("HUBFS_RETRIES", "1")


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None) -> tuple[int, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out + out.err


def mode_of(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_login_to_s3_keeps_user_and_credentials_privately(capsys, store_server):
    server = store_server("s3-moto")
    root = server.url("hubfs-test/login-root")
    rc, out = run(capsys, "login", "-u", "alice", "-p", f"KEYID:{SECRET}", "--root", root,
                  "--endpoint", server.endpoint)
    assert rc == 0 and SECRET not in out and "alice" in out
    path = namespace.config_path()
    assert mode_of(path) == 0o600 and mode_of(os.path.dirname(path)) == 0o700
    config = namespace.load_config()
    assert config["user"] == "alice" and config["root"] == root
    assert config["credentials"][root] == {"aws_access_key_id": "KEYID", "aws_secret_access_key": SECRET,
                                           "endpoint_url": server.endpoint}
    assert "warning" not in out  # moto answered with these credentials


def test_secret_from_standard_input_and_user_as_key_id(capsys, monkeypatch):
    rc, out = run(capsys, "login", "-u", "minioadmin", "-p", "-", "--root", "s3://b/p",
                  "--endpoint", "http://127.0.0.1:9", stdin=SECRET + "\n", monkeypatch=monkeypatch)
    assert rc == 0 and SECRET not in out
    creds = namespace.credentials("s3://b/p")
    assert creds["aws_access_key_id"] == "minioadmin" and creds["aws_secret_access_key"] == SECRET
    assert "warning" in out  # nothing listens on port 9: said, without the secret


def test_secret_from_standard_input_without_a_user_takes_the_stored_one(capsys, monkeypatch):
    namespace.save_config({"user": "erin"})
    rc, out = run(capsys, "login", "-p", "-", "--root", "s3://b/q", "--endpoint", "http://127.0.0.1:9",
                  stdin=f"ID:{SECRET}\n", monkeypatch=monkeypatch)
    assert rc == 0 and namespace.user() == "erin"
    assert namespace.credentials("s3://b/q")["aws_secret_access_key"] == SECRET


def test_login_prompts_for_what_is_missing(capsys, monkeypatch, store_server):
    endpoint = store_server("azure").endpoint + "/acct"
    monkeypatch.setattr("builtins.input", lambda prompt="": "carol")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": SECRET)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    rc, out = run(capsys, "login", "--root", "az://container/p", "--endpoint", endpoint)
    assert rc == 0 and SECRET not in out
    creds = namespace.credentials("az://container/p")
    assert creds == {"account_name": "carol", "account_key": SECRET, "endpoint_url": endpoint}
    assert namespace.user() == "carol"


def test_login_on_a_local_root_needs_no_secret(capsys):
    rc, out = run(capsys, "login", "-u", "dave", "-p", SECRET)  # the seed's `hub login -u -p`
    assert rc == 0 and SECRET not in out
    assert SECRET not in open(namespace.config_path()).read()
    assert namespace.user() == "dave"


def test_json_and_file_secrets_are_tokens(capsys, tmp_path):
    rc, _ = run(capsys, "login", "-u", "e", "-p", json.dumps({"connection_string": SECRET}),
                "--root", "az://c/p")
    assert rc == 0 and namespace.credentials("az://c/p") == {"connection_string": SECRET}
    sa = tmp_path / "sa.json"
    sa.write_text(json.dumps({"type": "service_account", "private_key": SECRET}))
    rc, out = run(capsys, "login", "-u", "e", "-p", str(sa), "--root", "gcs://b/p")
    assert rc == 0 and SECRET not in out
    assert namespace.credentials("gcs://b/p")["private_key"] == SECRET  # the contents, not the path


def test_config_get_masks_secrets_and_set_changes_settings(capsys, store_server):
    run(capsys, "login", "-u", "alice", "-p", f"ID:{SECRET}", "--root", "s3://b/p",
        "--endpoint", store_server("s3-moto").endpoint)
    rc, out = run(capsys, "config", "get")
    assert rc == 0 and SECRET not in out and "***" in out and "s3://b/p" in out
    assert run(capsys, "config", "get", "root") == (0, "s3://b/p\n")
    assert run(capsys, "config", "set", "endpoint", "http://127.0.0.1:10")[0] == 0
    assert namespace.credentials("s3://b/p")["endpoint_url"] == "http://127.0.0.1:10"
    assert namespace.credentials("s3://b/p")["aws_secret_access_key"] == SECRET
    assert run(capsys, "config", "set", "root", "gcs://x/y")[0] == 0
    assert namespace.root() == "gcs://x/y" and mode_of(namespace.config_path()) == 0o600
    with pytest.raises(SystemExit):  # a key that is not a setting (credentials never go through config)
        main(["config", "get", "credentials"])


def test_logout_removes_user_and_every_credential(capsys, store_server):
    run(capsys, "login", "-u", "alice", "-p", f"ID:{SECRET}", "--root", "s3://b/p",
        "--endpoint", store_server("s3-moto").endpoint)
    rc, out = run(capsys, "logout")
    assert rc == 0
    text = open(namespace.config_path()).read()
    assert SECRET not in text and "alice" not in text
    assert namespace.root() == "s3://b/p"  # settings other than the login stay
    assert mode_of(namespace.config_path()) == 0o600
    assert run(capsys, "logout")[1].strip() == "not logged in"


def test_register_creates_the_namespace_on_a_local_root(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HUBFS_ROOT", str(tmp_path / "root"))
    rc, out = run(capsys, "register", "-u", "frank")
    assert rc == 0
    marker = tmp_path / "root" / "frank" / ".hubfs-user.json"
    assert json.loads(marker.read_text())["user"] == "frank"
    assert namespace.user() == "frank"


def test_register_on_s3_creates_the_bucket_and_the_user_folder(capsys, store_server):
    server = store_server("s3-moto")
    root = server.url("hubfs-register-bucket/pre")
    run(capsys, "login", "-u", "alice", "-p", f"K:{SECRET}", "--root", root, "--endpoint", server.endpoint)
    rc, out = run(capsys, "register")
    assert rc == 0 and SECRET not in out
    fs, path = filesystem_for(f"{root}/alice", namespace.credentials(root))
    assert fs.exists(f"{path}/.hubfs-user.json")
    fs.rm("hubfs-register-bucket", recursive=True)


def test_register_rejects_a_bad_user_name(capsys):
    rc, out = run(capsys, "register", "-u", "../evil")
    assert rc == 1 and "user name" in out


def test_the_command_line_never_prints_the_secret(tmp_path, store_server):
    endpoint = store_server("s3-moto").endpoint
    env = {**os.environ, "HUBFS_CONFIG": str(tmp_path / "c" / "config")}
    env.pop("HUBFS_ROOT", None)
    cmds = [["login", "-u", "zed", "-p", "-", "--root", "s3://hubfs-cli-bucket/p", "--endpoint", endpoint],
            ["config", "get"], ["config", "get", "endpoint"], ["register"], ["logout"]]
    for cmd in cmds:
        out = subprocess.run([sys.executable, "-m", "hubfs", *cmd], input=f"{SECRET}\n", env=env,
                             capture_output=True, text=True, timeout=120)
        assert SECRET not in out.stdout + out.stderr, cmd
    assert mode_of(str(tmp_path / "c" / "config")) == 0o600
    fs, _ = filesystem_for("s3://hubfs-cli-bucket", {"endpoint_url": endpoint, "aws_access_key_id": "zed",
                                                      "aws_secret_access_key": SECRET})
    assert fs.exists("hubfs-cli-bucket/p/zed/.hubfs-user.json")  # register made the namespace
    fs.rm("hubfs-cli-bucket", recursive=True)

"""``user/ds`` names resolve under the root from HUBFS_ROOT, the config file, or ~/.hubfs/datasets."""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import hubfs
from hubfs.dataset import namespace
from hubfs.errors import ConfigError
from hubfs.schema import ClassLabel


def test_name_resolves_under_the_default_local_root(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    url, token = namespace.resolve("alice/mnist")
    assert url == str(tmp_path / ".hubfs" / "datasets" / "alice" / "mnist")
    assert token is None


def test_hubfs_root_wins_over_the_config(monkeypatch, tmp_path):
    namespace.save_config({"root": "s3://from-config/prefix"})
    assert namespace.resolve("alice/ds")[0] == "s3://from-config/prefix/alice/ds"
    monkeypatch.setenv("HUBFS_ROOT", "gcs://from-env/")
    assert namespace.resolve("alice/ds")[0] == "gcs://from-env/alice/ds"
    monkeypatch.setenv("HUBFS_ROOT", str(tmp_path / "root"))
    assert namespace.resolve("alice/ds")[0] == str(tmp_path / "root" / "alice" / "ds")


@pytest.mark.parametrize("url", ["./alice/ds", "../alice/ds", "/alice/ds", "s3://alice/ds", "alice/ds/more",
                                 "alice", "~/ds", ".hidden/ds", "alice/", "memory://alice/ds"])
def test_what_is_not_a_name_is_left_alone(url):
    assert namespace.resolve(url, None)[0] == url


def test_an_existing_local_path_is_not_a_name(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alice" / "ds").mkdir(parents=True)
    assert namespace.resolve("alice/ds")[0] == "alice/ds"
    assert namespace.resolve("alice/other")[0] != "alice/other"


def test_stored_credentials_are_the_token_for_urls_under_the_root():
    creds = {"aws_access_key_id": "id", "aws_secret_access_key": "s", "endpoint_url": "http://h:1"}
    namespace.save_config({"root": "s3://bucket/pre", "credentials": {"s3://bucket/pre": creds}})
    assert namespace.resolve("alice/ds") == ("s3://bucket/pre/alice/ds", creds)
    assert namespace.resolve("s3://bucket/pre/bob/ds") == ("s3://bucket/pre/bob/ds", creds)
    assert namespace.resolve("s3://bucket/other/ds") == ("s3://bucket/other/ds", None)
    assert namespace.resolve("s3://bucket/prefix-not-root/ds")[1] is None
    given = {"aws_access_key_id": "mine"}
    assert namespace.resolve("alice/ds", given) == ("s3://bucket/pre/alice/ds", given)


def test_config_file_is_private_and_replaced_whole(tmp_path):
    path = namespace.save_config({"user": "alice"})
    assert path == os.environ["HUBFS_CONFIG"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)
    namespace.save_config({"user": "bob"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(open(path).read()) == {"user": "bob"}
    assert [p for p in os.listdir(os.path.dirname(path)) if p != "config"] == []  # no temp files left


def test_a_corrupt_config_is_a_config_error(tmp_path):
    with open(namespace.config_path(), "w") as f:
        f.write("{not json SECRET")
    with pytest.raises(ConfigError) as err:
        namespace.resolve("alice/ds")
    assert "SECRET" not in str(err.value)


def test_redact_masks_secrets_and_keeps_what_helps():
    token = {"aws_access_key_id": "AKIA", "aws_secret_access_key": "S3CR3T", "endpoint_url": "http://h",
             "account_key": "K3Y", "sas_token": "?sig=X", "connection_string": "AccountKey=K"}
    shown = json.dumps(namespace.redact(token))
    for secret in ("S3CR3T", "K3Y", "sig=X", "AccountKey=K"):
        assert secret not in shown
    assert "AKIA" in shown and "http://h" in shown


def test_a_name_opens_a_dataset_under_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBFS_ROOT", str(tmp_path / "root"))
    ds = hubfs.Dataset("alice/labels", shape=(3,), schema={"label": ClassLabel(num_classes=4)})
    ds["label", 2] = 3
    ds.close()
    assert (tmp_path / "root" / "alice" / "labels" / "zarr.json").exists()
    ds = hubfs.Dataset("alice/labels", mode="r")
    assert ds["label", 2].compute() == 3
    assert np.asarray(ds["label", 0:3].compute()).tolist() == [0, 0, 3]
    ds.close()


def test_a_name_opens_a_dataset_on_a_cloud_root_with_stored_credentials(store_server):
    server = store_server("s3-moto")
    root = server.url("hubfs-test/ns-root")
    namespace.save_config({"root": root, "credentials": {root: server.token()}})
    ds = hubfs.Dataset("alice/cloud", shape=(2,), schema={"label": ClassLabel(num_classes=4)})
    ds["label", 1] = 2
    ds.close()
    assert ds.url == f"{root}/alice/cloud"
    ds = hubfs.Dataset("alice/cloud", mode="r")
    assert ds["label", 1].compute() == 2
    ds.close()
    from hubfs.dataset.stores import filesystem_for
    fs, path = filesystem_for(root, server.token())
    assert fs.exists(f"{path}/alice/cloud/zarr.json")
    fs.rm(path, recursive=True)


def test_an_azure_sas_moves_from_the_url_into_the_token():
    url, token = namespace.resolve("https://acct.blob.core.windows.net/c/ds?sv=2024&sig=SECRETSIG")
    assert url == "https://acct.blob.core.windows.net/c/ds"
    assert token == {"sas_token": "sv=2024&sig=SECRETSIG"}
    assert namespace.resolve("https://acct.blob.core.windows.net/c/ds?sig=X", {"account_key": "K"})[1] == \
        {"account_key": "K", "sas_token": "sig=X"}

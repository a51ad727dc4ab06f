"""``filesystem_for``: every url form gives a file system on which the Store's methods behave alike."""
from __future__ import annotations

import json

import pytest

from hubfs.dataset.stores import options as backends
from hubfs.dataset.stores import filesystem_for, is_remote, load_token, open_store
from hubfs.errors import ConfigError, StoreError


def test_every_store_answers_the_methods_the_store_uses(store_url):
    url, token = store_url
    fs, root = filesystem_for(url, token)
    key = f"{root}/a/b/c.bin"
    fs.pipe_file(key, b"0123456789")
    fs.pipe_file(f"{root}/zarr.json", b"{}")
    assert fs.cat_file(key) == b"0123456789"
    assert fs.cat_file(key, start=2, end=5) == b"234"
    assert fs.cat_file(key, start=7) == b"789"
    assert fs.cat_file(key, start=-3) == b"789"  # a suffix range (zarr's shard index read)
    assert fs.size(key) == 10 and fs.info(key)["size"] == 10
    assert fs.exists(key) and not fs.exists(f"{root}/nope")
    found = sorted(p.rstrip("/") for p in fs.find(root))
    assert len(found) == 2 and found[0].endswith("/a/b/c.bin") and found[1].endswith("/zarr.json")
    assert fs.find(f"{root}/missing") == []
    for missing in (lambda: fs.cat_file(f"{root}/nope"), lambda: fs.cat_file(f"{root}/nope", start=0, end=3),
                    lambda: fs.info(f"{root}/nope"), lambda: fs.size(f"{root}/nope")):
        with pytest.raises(FileNotFoundError):
            missing()
    fs.rm(key)
    assert not fs.exists(key)
    fs.rm(root, recursive=True)
    assert fs.find(root) == []


@pytest.mark.parametrize("url", ["relative/dir", "/abs/dir", "file:///abs/dir", "memory://b/p", "~/x"])
def test_local_and_memory_urls_are_not_remote(url):
    assert not is_remote(url)


@pytest.mark.parametrize("url", ["s3://b/p", "gcs://b/p", "gs://b/p", "az://c/p", "abfs://c/p",
                                 "https://acct.blob.core.windows.net/c/p"])
def test_cloud_urls_are_remote(url):
    assert is_remote(url)


def test_file_url_and_plain_path_name_the_same_folder(tmp_path):
    fs1, root1 = filesystem_for(f"file://{tmp_path}/ds")
    fs2, root2 = filesystem_for(str(tmp_path / "ds"))
    assert root1 == root2 == str(tmp_path / "ds")
    assert fs1 is fs2


def test_unknown_scheme_is_a_config_error_without_the_query():
    with pytest.raises(ConfigError) as err:
        filesystem_for("ftp://host/p?sig=SECRETSIG")
    assert "SECRETSIG" not in str(err.value)


def test_url_without_bucket_is_a_config_error():
    with pytest.raises(ConfigError):
        filesystem_for("s3://", {})


def test_token_file_is_read_and_a_bad_one_does_not_echo_its_contents(tmp_path):
    good = tmp_path / "creds.json"
    good.write_text(json.dumps({"aws_access_key_id": "id", "aws_secret_access_key": "TOPSECRET"}))
    assert load_token(str(good))["aws_secret_access_key"] == "TOPSECRET"
    bad = tmp_path / "bad.json"
    bad.write_text("TOPSECRET not json")
    with pytest.raises(ConfigError) as err:
        load_token(str(bad))
    assert "TOPSECRET" not in str(err.value)
    with pytest.raises(ConfigError):
        load_token(str(tmp_path / "absent.json"))
    assert load_token("anon") == {"anon": True}
    assert load_token(None) == {}


def test_service_account_file_is_passed_to_gcsfs_as_a_path(tmp_path):
    sa = tmp_path / "sa.json"
    sa.write_text(json.dumps({"type": "service_account", "private_key": "K"}))
    assert load_token(str(sa)) == {"token": str(sa)}


def test_file_systems_are_cached_per_options():
    token = {"aws_access_key_id": "a", "aws_secret_access_key": "b", "endpoint_url": "http://127.0.0.1:9"}
    fs1, root1 = filesystem_for("s3://bucket/one", token)
    fs2, root2 = filesystem_for("s3://bucket/two", dict(token))
    fs3, _ = filesystem_for("s3://bucket/one", {**token, "aws_secret_access_key": "c"})
    assert fs1 is fs2 and fs1 is not fs3
    assert (root1, root2) == ("bucket/one", "bucket/two")


def test_s3_token_keys_map_to_s3fs_options_and_others_pass_through():
    fs, root = filesystem_for("s3://b/p", {"aws_access_key_id": "K", "aws_secret_access_key": "S",
                                           "aws_session_token": "T", "endpoint_url": "127.0.0.1:9000",
                                           "region": "eu-west-1", "requester_pays": True})
    assert (fs.key, fs.secret, fs.token) == ("K", "S", "T")
    assert fs.endpoint_url == "http://127.0.0.1:9000"  # MinIO's "host:port" form
    assert fs.client_kwargs["region_name"] == "eu-west-1"
    assert fs.req_kw.get("RequestPayer") == "requester"
    assert fs.config_kwargs["connect_timeout"] == backends.CONNECT_TIMEOUT
    assert fs.retries == backends.RETRIES


def test_s3_token_as_a_json_file(store_server, tmp_path):
    server = store_server("s3-moto")
    path = tmp_path / "s3.json"
    path.write_text(json.dumps(server.token()))
    url = server.url("hubfs-test/from-file")
    fs, root = filesystem_for(url, str(path))
    fs.pipe_file(f"{root}/x", b"1")
    assert fs.cat_file(f"{root}/x") == b"1"
    fs.rm(root, recursive=True)


def test_gs_is_the_same_store_as_gcs(store_server):
    server = store_server("gcs")
    fs, root = filesystem_for("gcs://hubfs-test/alias", server.token())
    fs.pipe_file(f"{root}/x", b"via gcs")
    fs2, root2 = filesystem_for("gs://hubfs-test/alias", server.token())
    assert root2 == root and fs2.cat_file(f"{root2}/x") == b"via gcs"
    fs.rm(root, recursive=True)


def test_gcs_anon_flag_means_no_credentials(store_server):
    server = store_server("gcs")
    fs, _ = filesystem_for("gcs://hubfs-test/x", {"anon": True, "endpoint_url": server.endpoint})
    assert fs.exists("hubfs-test")


@pytest.mark.parametrize("form", ["az", "abfs", "abfs-host", "https"])
def test_every_azure_url_form_reaches_the_container(store_server, form):
    server = store_server("azure")
    token = server.token()
    fs0, root0 = filesystem_for("az://hubfs-test/forms", token)
    fs0.pipe_file(f"{root0}/x", b"azure")
    account = token["account_name"]
    url = {"az": "az://hubfs-test/forms", "abfs": "abfs://hubfs-test/forms",
           "abfs-host": f"abfs://hubfs-test@{account}.dfs.core.windows.net/forms",
           "https": f"https://{account}.blob.core.windows.net/hubfs-test/forms"}[form]
    tok = dict(token)
    if form in ("abfs-host", "https"):
        tok.pop("account_name")  # the account comes from the url
    fs, root = filesystem_for(url, tok)
    assert root == "hubfs-test/forms"
    assert fs.cat_file(f"{root}/x") == b"azure"
    assert fs.cat_file(f"{root}/x", start=-2) == b"re"
    fs0.rm(root0, recursive=True)


def test_azure_connection_string_token(store_server):
    server = store_server("azure")
    t = server.token()
    conn = (f"DefaultEndpointsProtocol=http;AccountName={t['account_name']};AccountKey={t['account_key']};"
            f"BlobEndpoint={t['endpoint_url']};")
    fs, root = filesystem_for("az://hubfs-test/conn", {"connection_string": conn})
    fs.pipe_file(f"{root}/x", b"1")
    assert fs.exists(f"{root}/x")
    fs.rm(root, recursive=True)


def test_azure_without_an_account_is_a_config_error(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(ConfigError):
        filesystem_for("az://c/p", None)


@pytest.mark.parametrize("kind", ["s3-moto", "azure"])  # fake-gcs-server checks no credentials
def test_wrong_credentials_are_a_store_error_that_names_no_secret(store_server, kind):
    server = store_server(kind)
    token = dict(server.token())
    if kind == "azure":
        token["account_key"] = "V1JPTkdLRVlXUk9OR0tFWVdST05HS0VZV1JPTkdLRVk="
    else:  # moto accepts any key, so make the bucket the wrong one
        token["aws_secret_access_key"] = "WRONGSECRET"
    url = server.url("no-such-bucket-hubfs/ds") if kind != "azure" else server.url("hubfs-test/ds")
    store = open_store(url, token)
    with pytest.raises(StoreError) as err:
        store.put("x", b"1")
    secret = token["account_key"] if kind == "azure" else token["aws_secret_access_key"]
    assert secret not in str(err.value) and secret not in repr(err.value)


def test_an_aws_credentials_file_is_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    ini = tmp_path / "credentials"
    ini.write_text("[other]\naws_access_key_id = O\naws_secret_access_key = OS\n\n"
                   "[default]\naws_access_key_id = K\naws_secret_access_key = S\nendpoint_url = http://127.0.0.1:9\n")
    assert load_token(str(ini)) == {"aws_access_key_id": "K", "aws_secret_access_key": "S",
                                    "endpoint_url": "http://127.0.0.1:9"}
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert load_token(str(ini))["aws_access_key_id"] == "O"
    fs, root = filesystem_for("s3://bucket/p", str(ini))
    assert fs.key == "O" and root == "bucket/p"


def test_a_token_file_that_does_not_parse_is_an_error_on_every_store(tmp_path):
    bad = tmp_path / "garbage"
    bad.write_text("not json, not ini: SECRET")
    for url in (str(tmp_path / "ds"), "memory://b/p", "s3://b/p"):
        with pytest.raises(ConfigError) as err:
            filesystem_for(url, str(bad))
        assert "SECRET" not in str(err.value)

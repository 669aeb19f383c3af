"""What packing captures by itself: git state, DVC hashes, data fingerprints, the lock."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata

import pytest

import modelbaton
from modelbaton.contract.io import read_manifest
from modelbaton.package import capture


@pytest.fixture(scope="module")
def model(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=300).fit(X, y)


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A real git repository with one commit, as the working directory."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dana@example.com")
    git(repo, "config", "user.name", "Dana")
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    return repo


def lineage(path):
    return read_manifest(path / "baton.yaml").lineage


def test_git_commit_branch_and_dirty_flag(repo, model, iris):
    X, _ = iris
    clean = lineage(modelbaton.pack(model, repo / "out" / "a", sample_input=X, name="i",
                                    version="1"))
    assert clean.git_commit == git(repo, "rev-parse", "HEAD") and len(clean.git_commit) == 40
    assert clean.git_dirty is False and clean.git_branch == "main"
    assert clean.created_by == "tester" and clean.created_at is not None

    (repo / "train.py").write_text("print('changed, not committed')\n")
    dirty = lineage(modelbaton.pack(model, repo / "out" / "b", sample_input=X, name="i",
                                    version="1"))
    assert dirty.git_dirty is True and dirty.git_commit == clean.git_commit


def test_remote_credentials_are_never_packaged(repo, model, iris):
    git(repo, "remote", "add", "origin",
        "https://dana:ghp_s3cretToken@git.example.com/ml/churn.git?private_token=abc123")
    path = modelbaton.pack(model, repo / "out", sample_input=iris[0], name="i", version="1")
    assert lineage(path).git_remote == "https://git.example.com/ml/churn.git"
    for file in path.rglob("*"):
        if file.is_file():
            text = file.read_bytes()
            assert b"s3cretToken" not in text and b"abc123" not in text, file


@pytest.mark.parametrize("url, expected", [
    ("https://user:pw@host/org/repo.git", "https://host/org/repo.git"),
    ("https://oauth2:token@gitlab.com/a/b", "https://gitlab.com/a/b"),
    ("ssh://git@github.com/org/repo.git", "ssh://github.com/org/repo.git"),
    ("git@github.com:org/repo.git", "github.com:org/repo.git"),
    ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
    ("/srv/git/repo.git", "/srv/git/repo.git"),
])
def test_strip_credentials(url, expected):
    assert capture.strip_credentials(url) == expected


def test_outside_a_repository_no_git_fields(tmp_path, monkeypatch, model, iris):
    monkeypatch.chdir(tmp_path)
    found = lineage(modelbaton.pack(model, tmp_path / "pkg", sample_input=iris[0], name="i",
                                    version="1"))
    assert found.git_commit is None and found.git_dirty is None


# --- data --------------------------------------------------------------------------------


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_dvc_hashes_from_a_dvc_file_and_from_dvc_lock(repo, model, iris):
    X, y = iris
    data = repo / "data"
    data.mkdir()
    X.assign(species=y).to_csv(data / "train.csv", index=False)
    X.head(30).to_csv(data / "holdout.csv", index=False)
    # `dvc add data/train.csv` writes a sidecar like this (DVC 3):
    (data / "train.csv.dvc").write_text(
        f"outs:\n- md5: {md5(data / 'train.csv')}\n  size: {(data / 'train.csv').stat().st_size}"
        "\n  hash: md5\n  path: train.csv\n")
    # `dvc repro` of a stage that writes data/holdout.csv records it in dvc.lock:
    (repo / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  split:\n    cmd: python split.py\n    deps:\n"
        "    - path: data/raw.csv\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef\n"
        "      size: 99\n    outs:\n    - path: data/holdout.csv\n      hash: md5\n"
        f"      md5: {md5(data / 'holdout.csv')}\n"
        f"      size: {(data / 'holdout.csv').stat().st_size}\n")
    path = modelbaton.pack(model, repo / "pkg", sample_input=X, name="i", version="1",
                           training_data=data / "train.csv",
                           evaluation_data=data / "holdout.csv")
    datasets = {d.name: d for d in read_manifest(path / "baton.yaml").data.datasets}
    assert datasets["training"].dvc == {
        "source": "train.csv.dvc", "md5": md5(data / "train.csv"),
        "size": (data / "train.csv").stat().st_size, "hash": "md5"}
    assert datasets["evaluation"].dvc == {
        "source": "dvc.lock (data/holdout.csv)", "md5": md5(data / "holdout.csv"),
        "size": (data / "holdout.csv").stat().st_size, "hash": "md5"}
    assert datasets["evaluation"].role == "evaluation"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_data_fingerprints(tmp_path, model, iris, suffix):
    X, y = iris
    frame = X.assign(species=y)
    path = tmp_path / f"train{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    found = capture.fingerprint_file(path)
    assert found.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert found.rows == 150
    assert found.columns == ["sepal_length", "sepal_width", "petal_length", "petal_width",
                             "species"]
    assert found.location == str(path) and found.dvc is None


def test_datasets_merge_with_what_people_wrote(tmp_path, model, iris):
    X, y = iris
    X.to_csv(tmp_path / "train.csv", index=False)
    path = modelbaton.pack(
        model, tmp_path / "pkg", sample_input=X, name="i", version="1",
        training_data={"iris-2024": tmp_path / "train.csv"}, evaluation_data=X.head(40),
        data={"datasets": [{"name": "iris-2024", "source": "botany warehouse",
                            "transformations": ["dropped duplicates"], "pii": []}]})
    datasets = {d.name: d for d in read_manifest(path / "baton.yaml").data.datasets}
    measured = datasets["iris-2024"]
    assert measured.source == "botany warehouse" and measured.pii == []
    assert measured.transformations == ["dropped duplicates"] and measured.rows == 150
    assert datasets["evaluation"].rows == 40 and len(datasets["evaluation"].sha256) == 64
    assert datasets["evaluation"].source.startswith("TODO")


# --- environment -------------------------------------------------------------------------


def pins(path):
    lines = (path / "env" / "requirements.lock").read_text().splitlines()
    return dict(line.split(" ")[0].split("==") for line in lines if line and line[0] != "#")


def test_lock_pins_exactly_what_the_model_and_its_code_import(tmp_path, model, iris):
    X, _ = iris
    code = tmp_path / "code"
    code.mkdir()
    (code / "features.py").write_text("import json\nimport yaml\nimport helpers\n\n"
                                      "def transform(frame):\n    return helpers.same(frame)\n")
    (code / "helpers.py").write_text("import numpy as np\n\ndef same(frame):\n"
                                     "    return frame\n")
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=X, name="i", version="1",
                           code=code, preprocessing="features:transform")
    found = pins(path)
    for name in ("scikit-learn", "skops", "numpy", "pandas", "pyyaml", "scipy", "joblib",
                 "threadpoolctl"):  # the model, its code, and what they require
        assert found[name] == metadata.version(name), name
    for name in ("torch", "xgboost", "typer", "modelbaton", "pytest"):
        assert name not in found, name
    assert all(version == metadata.version(name) for name, version in found.items())
    environment = read_manifest(path / "baton.yaml").environment
    assert environment.source == "captured" and environment.python == capture.python_version()


def test_the_users_own_lock_file(tmp_path, model, iris):
    lock = tmp_path / "requirements.txt"
    lock.write_text("scikit-learn==1.5.0 --hash=sha256:" + "a" * 64 + "\nnumpy==2.0.0\n")
    path = modelbaton.pack(model, tmp_path / "pkg", sample_input=iris[0], name="i",
                           version="1", requirements=lock)
    assert (path / "env" / "requirements.lock").read_text() == lock.read_text()
    assert read_manifest(path / "baton.yaml").environment.source == "user"
    with pytest.raises(modelbaton.BatonError, match="requirements file .* does not exist"):
        modelbaton.pack(model, tmp_path / "pkg2", sample_input=iris[0], name="i",
                        version="1", requirements=tmp_path / "missing.txt")


def test_lock_from_direct_url_records_the_archive_hash(tmp_path):
    """A distribution installed from a wheel file keeps its sha256 in the lock."""
    torch_dist = next((d for d in metadata.distributions()
                       if d.metadata["Name"] == "torch"), None)
    if torch_dist is None or not torch_dist.read_text("direct_url.json"):
        pytest.skip("torch was not installed from a local wheel here")
    direct = json.loads(torch_dist.read_text("direct_url.json"))
    line = capture.pin_closure(["torch"], exclude=())
    torch_pin = next(pin for pin in line if pin.startswith("torch=="))
    if "sha256" in direct.get("archive_info", {}).get("hashes", {}):
        assert torch_pin.endswith(direct["archive_info"]["hashes"]["sha256"])

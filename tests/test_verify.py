"""`baton verify`, `baton sign` and `baton keys`: clean rooms, replay, signatures, receipts.

Most tests run the replay with `--env-manager local` (a real subprocess, no environment
built) on a small package whose model is Python code pinned to numpy. The tests marked
`slow` build real clean rooms with uv from PyPI; they share one wheel and environment cache
for the session, so each lock is resolved once.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import textwrap
from pathlib import Path

import pytest
from _scorer import copy_package, pack_scorer, rewrite_file

import modelbaton
from modelbaton.contract.errors import IntegrityError
from modelbaton.contract.io import read_manifest, write_manifest
from modelbaton.contract.manifest import Budgets, Performance
from modelbaton.package.receipts import latest, read_receipts
from modelbaton.verify.signatures import SignatureError, check_receipt_signature

LOCAL = ("--env-manager", "local")


@pytest.fixture(scope="session")
def scorer_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("scorer")
    return pack_scorer(base / "src", base / "pkg")


@pytest.fixture
def pkg(scorer_pkg: Path, tmp_path: Path) -> Path:
    return copy_package(scorer_pkg, tmp_path / "pkg")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wheel cache and environment store for every clean-room test of the session."""
    return tmp_path_factory.mktemp("baton-cache")


@pytest.fixture
def warm_cache(baton_home: Path, shared_cache: Path) -> Path:
    baton_home.mkdir(parents=True, exist_ok=True)
    (baton_home / "cache").symlink_to(shared_cache, target_is_directory=True)
    return shared_cache


def receipt_of(result) -> dict:
    return json.loads(result.out)


def check(receipt: dict, name: str) -> dict:
    return next(c for c in receipt["checks"] if c["name"] == name)


# --- the replay and the receipt ----------------------------------------------------------


def test_verified_package_gets_a_receipt_bound_to_its_digest(cli, pkg):
    result = cli("verify", pkg, *LOCAL, "--json")
    assert result.code == 0, result.err
    receipt = receipt_of(result)
    digest = modelbaton.open_package(pkg).digest
    assert receipt["passed"] and receipt["package_digest"] == digest
    assert [c["name"] for c in receipt["checks"]] == [
        "integrity", "signature", "environment", "load", "replay", "output schema",
        "imports", "pins"]
    assert all(c["passed"] and c["seconds"] >= 0 for c in receipt["checks"])
    assert "20 golden rows x 3 columns reproduced" in check(receipt, "replay")["message"]
    import numpy

    assert receipt["environment"]["distributions"]["numpy"] == numpy.__version__
    assert receipt["environment"]["python"] and receipt["environment"]["platform"]
    assert receipt["verifier"]["user"] == "tester"
    stored = latest(pkg, "verify", digest)
    assert stored is not None and stored["passed"] and stored["_path"] == receipt["receipt_path"]
    # The receipt is not part of the package: the digest and the integrity check hold.
    assert modelbaton.open_package(pkg).digest == digest


def test_golden_output_that_does_not_reproduce_names_rows_and_columns(cli, pkg):
    golden = json.loads((pkg / "data" / "golden.json").read_text())
    golden["outputs"]["probability_1"][3] += 0.125
    golden["outputs"]["prediction"][5] = 1 - golden["outputs"]["prediction"][5]
    rewrite_file(pkg, "data/golden.json", json.dumps(golden))  # integrity still passes

    result = cli("verify", pkg, *LOCAL)
    assert result.code == 1
    assert "✓ integrity" in result.out and "✗ replay" in result.out
    assert "probability_1: 1 rows differ: row 3: expected" in result.out
    assert "prediction: 1 rows differ: row 5" in result.out
    assert "largest difference 0.125" in result.out
    assert "not verified scorer 1: replay failed" in result.out

    receipt = latest(pkg, "verify", modelbaton.open_package(pkg).digest)
    assert receipt is not None and not receipt["passed"]
    mismatches = {m["column"]: m for m in check(receipt, "replay")["mismatches"]}
    assert mismatches["probability_1"]["rows"] == [3]
    assert mismatches["probability_1"]["max_abs_diff"] == pytest.approx(0.125)
    assert mismatches["prediction"]["rows"] == [5]


def test_outputs_outside_the_interface_and_unpinned_versions_fail(cli, pkg):
    manifest = read_manifest(pkg / "baton.yaml")
    outputs = [f.model_copy(update={"maximum": 0.5}) if f.name == "probability_1" else f
               for f in manifest.interface.outputs]
    interface = manifest.interface.model_copy(update={"outputs": outputs})
    write_manifest(manifest.model_copy(update={"interface": interface}), pkg / "baton.yaml")
    lock = (pkg / "env" / "requirements.lock").read_text()
    rewrite_file(pkg, "env/requirements.lock",
                 "\n".join("numpy==1.0.0" if line.startswith("numpy==") else line
                           for line in lock.splitlines()) + "\n")

    receipt = receipt_of(cli("verify", pkg, *LOCAL, "--json"))  # here, not the pinned numpy
    assert not receipt["passed"]
    schema = check(receipt, "output schema")
    assert not schema["passed"] and "field 'probability_1'" in schema["message"]
    assert "is outside [0, 0.5]" in schema["message"]
    import numpy

    line = (pkg / "env" / "requirements.lock").read_text().splitlines().index("numpy==1.0.0")
    assert check(receipt, "pins")["differences"] == [
        f"line {line + 1}: numpy==1.0.0 but {numpy.__version__} is installed"]


def test_changed_file_fails_integrity_and_names_it(cli, pkg):
    (pkg / "code" / "scorer.py").write_text("raise SystemExit('tampered')\n")
    result = cli("verify", pkg, *LOCAL, "--json")
    assert result.code == 1
    receipt = receipt_of(result)
    assert check(receipt, "integrity")["message"].startswith("code/scorer.py differs")
    # Nothing is loaded from a package whose files differ from its manifest.
    assert [c["name"] for c in receipt["checks"]] == ["integrity", "signature"]


def test_verify_of_a_baton_file_adds_the_receipt_to_the_file(cli, tmp_path, scorer_pkg):
    from modelbaton.package.archive import write_archive

    archive = write_archive(scorer_pkg, tmp_path / "scorer.baton")
    digest = modelbaton.open_package(archive).digest
    cli("keys", "generate", "--name", "dana")
    signed = cli("sign", archive, "--key", Path(os.environ["BATON_HOME"]) / "keys" / "dana.pem")
    assert signed.code == 0 and f"{archive}!receipts/signature-" in signed.out
    result = cli("verify", archive, *LOCAL, "--require-signature")
    assert result.code == 0, result.out + result.err
    assert f"receipt: {archive}!receipts/verify-" in result.out
    reopened = modelbaton.open_package(archive)  # a new copy: the archive was rewritten
    assert reopened.digest == digest
    assert latest(reopened.root, "verify", digest)["passed"]


def test_signed_receipt_names_the_verifier(cli, pkg, tmp_path):
    assert cli("keys", "generate", "--name", "ops").code == 0
    key = Path(os.environ["BATON_HOME"]) / "keys" / "ops.pem"
    result = cli("verify", pkg, *LOCAL, "--key", key, "--json")
    assert result.code == 0, result.err
    receipt = receipt_of(result)
    stored = json.loads(Path(receipt["receipt_path"]).read_text())
    assert check_receipt_signature(stored).name == "ops"
    stored["checks"][3]["passed"] = False  # an edited receipt no longer carries the signature
    assert check_receipt_signature(stored) is None


def test_unusable_input_exits_2(cli, pkg, tmp_path):
    assert "does not exist" in cli("verify", tmp_path / "nope", *LOCAL).err
    result = cli("verify", pkg, "--env-manager", "conda")
    assert result.code == 2 and "--env-manager 'conda' is not one of uv, venv, local" in result.err
    result = cli("verify", pkg, "--python", "2.1")
    assert result.code == 2 and "no Python interpreter matches '2.1'" in result.err
    assert "pass --python with another version or a path" in result.err

    lock = pkg / "env" / "requirements.lock"
    rewrite_file(pkg, "env/requirements.lock", lock.read_text() + "numpy >>= 2\n")
    result = cli("verify", pkg, *LOCAL)
    line = len(lock.read_text().splitlines())
    assert result.code == 2
    assert f"requirements.lock:{line}: `numpy >>= 2` is not a requirement" in result.err

    rewrite_file(pkg, "env/requirements.lock", "-r base.txt\n")
    result = cli("verify", pkg, *LOCAL)
    assert result.code == 2 and "requirements.lock:1: `-r base.txt`" in result.err
    assert "inline the referenced file" in result.err


# --- signatures --------------------------------------------------------------------------


def test_keys_generate_writes_a_private_key_only_its_owner_reads(cli, baton_home):
    result = cli("keys", "generate", "--name", "dana", "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    private = Path(info["private_key"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(info["public_key_file"]).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    listed = json.loads(cli("keys", "list", "--json").out)
    assert [(k["name"], k["key_id"]) for k in listed] == [("dana", info["key_id"])]
    again = cli("keys", "generate", "--name", "dana")
    assert again.code == 2 and "already exists" in again.err  # keys are never overwritten


def test_signed_package_passes_and_load_can_require_it(cli, pkg, baton_home):
    with pytest.raises(SignatureError, match="not signed"):
        modelbaton.load(pkg, require_signature=True)
    cli("keys", "generate", "--name", "dana")
    result = cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    assert result.code == 0, result.err
    assert "signed scorer 1" in result.out and "as dana" in result.out

    assert modelbaton.load(pkg, require_signature=True).predict({"x": [1.0], "y": [0.0]})[0] == 1
    receipt = receipt_of(cli("verify", pkg, *LOCAL, "--require-signature", "--json"))
    assert receipt["passed"]
    assert check(receipt, "signature")["status"] == "valid"
    assert check(receipt, "signature")["signer"] == "dana"


def test_unsigned_package_fails_when_a_signature_is_required(cli, pkg):
    result = cli("verify", pkg, *LOCAL, "--require-signature")
    assert result.code == 1
    assert "✗ signature" in result.out and "not signed but a signature is required" in result.out


def test_change_after_signing_says_which_file_changed(cli, pkg, baton_home):
    cli("keys", "generate", "--name", "dana")
    cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    golden = json.loads((pkg / "data" / "golden.json").read_text())
    golden["inputs"]["x"][0] = 3.0
    rewrite_file(pkg, "data/golden.json", json.dumps(golden))

    with pytest.raises(SignatureError, match="changed after dana signed it: data/golden.json "
                                             "changed"):
        modelbaton.load(pkg, require_signature=True)
    receipt = receipt_of(cli("verify", pkg, *LOCAL, "--json"))
    assert not receipt["passed"]
    assert check(receipt, "signature")["status"] == "changed"
    assert "data/golden.json changed" in check(receipt, "signature")["message"]


def test_edited_manifest_after_signing_is_named(cli, pkg, baton_home):
    cli("keys", "generate", "--name", "dana")
    cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    manifest = read_manifest(pkg / "baton.yaml")
    write_manifest(manifest.model_copy(update={"description": "now better"}),
                   pkg / "baton.yaml")
    with pytest.raises(SignatureError, match="baton.yaml was edited"):
        modelbaton.load(pkg, require_signature=True)


def test_file_changed_without_the_manifest_is_named_by_the_integrity_check(cli, pkg,
                                                                           baton_home):
    cli("keys", "generate", "--name", "dana")
    cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    (pkg / "model" / "python.json").write_text("{}\n")
    with pytest.raises(IntegrityError, match="model/python.json differs"):
        modelbaton.load(pkg, require_signature=True, verify=False)


def test_signature_by_an_untrusted_key_until_it_is_added(cli, pkg, baton_home, tmp_path,
                                                          monkeypatch):
    cli("keys", "generate", "--name", "dana")
    cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    monkeypatch.setenv("BATON_HOME", str(tmp_path / "receiving-team"))  # another machine

    result = cli("verify", pkg, *LOCAL, "--require-signature")
    assert result.code == 1
    assert "signed by dana with key" in result.out and "not in your keyring" in result.out
    assert cli("keys", "add", baton_home / "keys" / "dana.pub", "--name", "dana").code == 0
    assert cli("verify", pkg, *LOCAL, "--require-signature").code == 0


def test_forged_signature_is_invalid(cli, pkg, baton_home):
    cli("keys", "generate", "--name", "dana")
    cli("sign", pkg, "--key", baton_home / "keys" / "dana.pem")
    path = Path(read_receipts(pkg, "signature")[0]["_path"])
    receipt = json.loads(path.read_text())
    signature = bytearray(base64.b64decode(receipt["signature"]))
    signature[0] ^= 1
    receipt["signature"] = base64.b64encode(bytes(signature)).decode()
    path.write_text(json.dumps(receipt))
    with pytest.raises(SignatureError, match="no signature in the package is valid"):
        modelbaton.load(pkg, require_signature=True)


def test_private_key_readable_by_others_is_refused(cli, pkg, baton_home):
    cli("keys", "generate", "--name", "dana")
    key = baton_home / "keys" / "dana.pem"
    key.chmod(0o644)
    result = cli("sign", pkg, "--key", key)
    assert result.code == 2 and "readable by others" in result.err
    assert f"chmod 600 {key}" in result.err
    assert cli("sign", pkg, "--key", baton_home / "keys" / "dana.pub").code == 2


# --- clean rooms built with uv (slow: real environments from PyPI) ----------------------


@pytest.mark.slow
def test_clean_room_reproduces_and_is_reused_for_the_same_lock(cli, pkg, warm_cache):
    first = receipt_of(cli("verify", pkg, "--json"))
    assert first["passed"], first["checks"]
    environment = first["environment"]
    assert environment["manager"] == "uv"
    assert Path(environment["path"]).resolve().parent == (warm_cache / "envs").resolve()
    lock = (pkg / "env" / "requirements.lock").read_text()
    numpy = next(line for line in lock.splitlines() if line.startswith("numpy=="))
    assert f"numpy=={environment['distributions']['numpy']}" == numpy
    assert environment["distributions"]["modelbaton"] == modelbaton.__version__
    assert "pandas" not in environment["distributions"]  # only what the lock asks for

    # Rebuilt from the wheel cache alone: no index is asked.
    offline = receipt_of(cli("verify", pkg, "--offline", "--fresh", "--json"))
    assert offline["passed"] and not offline["environment"]["reused"]
    assert offline["environment"]["distributions"] == environment["distributions"]

    # Again: the sealed environment is reused; with --bench, measured in the clean room.
    manifest = read_manifest(pkg / "baton.yaml")
    budgets = Performance(budgets=Budgets(latency_p99_ms=60_000, peak_rss_mb=1))
    write_manifest(manifest.model_copy(update={"performance": budgets}), pkg / "baton.yaml")
    result = cli("verify", pkg, "--bench", "--json")
    second = receipt_of(result)
    assert second["environment"]["reused"]
    assert second["environment"]["path"] == environment["path"]
    assert result.code == 1
    assert check(second, "budgets")["violations"] == [
        f"peak RSS {second['performance']['peak_rss_mb']:.0f} MB exceeds the budget of 1 MB"]
    latency = second["performance"]["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"]
    assert second["performance"]["machine"]["libraries"]["numpy"] == \
        environment["distributions"]["numpy"]


@pytest.mark.slow
def test_model_code_importing_what_the_lock_lacks_fails_by_name(cli, tmp_path, scorer_pkg,
                                                                warm_cache):
    # The same numpy-only lock as the scorer's, given by the user; the code needs joblib.
    lock = tmp_path / "requirements.lock"
    lock.write_text((scorer_pkg / "env" / "requirements.lock").read_text())
    pkg = pack_scorer(tmp_path / "src", tmp_path / "pkg", requirements=lock,
                      extra_code="import joblib  # used in training only\n")
    assert modelbaton.load(pkg).predict({"x": [1.0], "y": [0.0]})[0] == 1  # fine here

    result = cli("verify", pkg, "--json")
    assert result.code == 1
    load = check(receipt_of(result), "load")
    assert not load["passed"] and load["missing_module"] == "joblib"
    assert "No module named 'joblib'" in load["message"]


def test_imports_outside_the_lock_are_reported_by_module(cli, tmp_path, scorer_pkg):
    # The scorer's numpy-only lock, while its code also needs joblib. Here (`local`) joblib
    # is installed, as a resolver would install an unpinned transitive requirement: the
    # model loads and reproduces, but the environment is not what the lock pins.
    lock = tmp_path / "requirements.lock"
    lock.write_text((scorer_pkg / "env" / "requirements.lock").read_text())
    pkg = pack_scorer(tmp_path / "src", tmp_path / "pkg", requirements=lock,
                      extra_code="import joblib\n")
    result = cli("verify", pkg, *LOCAL, "--json")
    assert result.code == 1
    receipt = receipt_of(result)
    assert check(receipt, "replay")["passed"]
    imports = check(receipt, "imports")
    outside = {e["module"]: e for e in imports["outside"]}
    assert "joblib" in outside  # and whatever joblib imports when it finds it installed
    assert not {"numpy", "pydantic", "yaml", "scorer"} & set(outside)  # pinned, ours, code
    assert outside["joblib"]["distribution"] == "joblib"
    assert f"joblib (joblib {outside['joblib']['version']})" in imports["message"]


@pytest.mark.slow
def test_sklearn_pipeline_reproduces_in_a_clean_room(cli, tmp_path,
                                                                           iris, warm_cache):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    pkg = modelbaton.pack(model, tmp_path / "iris", sample_input=X, name="iris", version="1")
    result = cli("verify", pkg, "--json")
    receipt = receipt_of(result)
    assert result.code == 0, receipt["checks"]
    assert {"scikit-learn", "skops", "pandas"} <= set(receipt["environment"]["distributions"])
    assert "torch" not in receipt["environment"]["distributions"]  # installed here, not there


@pytest.mark.slow
def test_venv_manager_builds_with_pip(cli, pkg, warm_cache):
    receipt = receipt_of(cli("verify", pkg, "--env-manager", "venv", "--json"))
    assert receipt["passed"], receipt["checks"]
    assert receipt["environment"]["manager"] == "venv"
    assert "numpy" in receipt["environment"]["distributions"]


# --- environments that cannot be built ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("pin, says", [
    ("idna==0.0.1", "there is no version of idna==0.0.1"),
    ("baton-no-such-distribution==1.0", "baton-no-such-distribution was not found"),
])
def test_lock_that_cannot_be_resolved_shows_the_resolver_and_the_line(cli, pkg, warm_cache,
                                                                      pin, says):
    lock = pkg / "env" / "requirements.lock"
    lines = [*lock.read_text().splitlines(), pin]
    rewrite_file(pkg, "env/requirements.lock", "\n".join(lines) + "\n")
    result = cli("verify", pkg)
    assert result.code == 2
    assert f"requirements.lock:{lines.index(pin) + 1}: `{pin}` cannot be installed" in result.err
    assert says in result.err
    assert "hint: fix or remove that pin" in result.err
    assert not read_receipts(pkg, "verify")  # nothing was verified, so nothing is claimed


def test_offline_with_a_cold_cache_says_how_to_fill_it(cli, pkg, tmp_path, monkeypatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-uv-cache"))
    result = cli("verify", pkg, "--offline")
    assert result.code == 2
    assert "--offline, and the wheel cache lacks what the lock needs" in result.err
    assert "run `baton verify` once without --offline" in result.err


def unreachable_index(monkeypatch) -> None:
    """No network: every request goes through a proxy nothing listens on. (Pointing uv at
    another index would not do: its cache is kept per index.)"""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")


def test_unreachable_index_and_cold_cache_say_what_to_do(cli, pkg, tmp_path, monkeypatch):
    unreachable_index(monkeypatch)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-uv-cache"))
    result = cli("verify", pkg)
    assert result.code == 2
    assert "cannot reach the package index" in result.err
    assert "the wheel cache lacks what the lock needs" in result.err
    assert "--offline builds from it" in result.err
    assert not read_receipts(pkg, "verify")


@pytest.mark.slow
def test_unreachable_index_falls_back_to_the_wheel_cache(cli, pkg, monkeypatch):
    """uv's own cache installed this Baton and numpy: offline once installed, verify works."""
    unreachable_index(monkeypatch)
    receipt = receipt_of(cli("verify", pkg, "--fresh", "--json"))
    assert receipt["passed"], receipt["checks"]
    assert not receipt["environment"]["reused"]
    lock = (pkg / "env" / "requirements.lock").read_text()
    assert f"numpy=={receipt['environment']['distributions']['numpy']}" in lock


def test_model_crashing_on_load_is_reported_from_inside(cli, tmp_path):
    pkg = pack_scorer(tmp_path / "src", tmp_path / "pkg")
    rewrite_file(pkg, "code/scorer.py", textwrap.dedent("""
        raise RuntimeError("feature store unreachable")
    """))
    result = cli("verify", pkg, *LOCAL, "--json")
    assert result.code == 1
    load = check(receipt_of(result), "load")
    assert "RuntimeError: feature store unreachable" in load["message"]

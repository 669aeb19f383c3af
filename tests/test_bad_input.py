"""Every kind of bad input the issue lists, through the CLI: exit code 2, one line on
stderr saying what and where, no traceback, and nothing half-written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import modelbaton


def assert_error(result, *fragments: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    message = result.err.strip()
    assert "\n" not in message, message
    assert message.startswith("error: ") and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.fixture(scope="module")
def packed(tmp_path_factory, iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    path = modelbaton.pack(model, tmp_path_factory.mktemp("packed") / "iris", sample_input=X,
                           name="iris", version="1")
    return path, model


@pytest.fixture
def package(packed, tmp_path):
    """A fresh copy of the packed iris model for each test to damage."""
    return shutil.copytree(packed[0], tmp_path / "iris")


# --- damaged packages --------------------------------------------------------------------


def test_tampered_artifact(cli, package):
    artifact = package / "model" / "model.skops"
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0x01
    artifact.write_bytes(bytes(data))
    for command in (("inspect", package), ("predict", package, "--input", "x.csv")):
        assert_error(cli(*command), "model/model.skops differs from the manifest",
                     "altered after packing")


def test_truncated_artifact_of_the_same_name(cli, package):
    (package / "env" / "requirements.lock").write_text("numpy==1.0\n")
    assert_error(cli("inspect", package), "env/requirements.lock differs")


def test_missing_file(cli, package):
    (package / "data" / "golden.json").unlink()
    assert_error(cli("inspect", package), "file listed in the manifest is missing: "
                 "data/golden.json")


def test_extra_unlisted_file(cli, package):
    (package / "model" / "backdoor.py").write_text("print('hi')\n")
    assert_error(cli("inspect", package), "file not listed in the manifest: model/backdoor.py",
                 "re-pack")


def test_not_a_package(cli, tmp_path):
    assert_error(cli("inspect", tmp_path / "nowhere"), "does not exist")
    (tmp_path / "empty").mkdir()
    assert_error(cli("inspect", tmp_path / "empty"), "has no baton.yaml")


# --- the manifest ------------------------------------------------------------------------


def edit_manifest(package, old: str, new: str) -> None:
    path = package / "baton.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_yaml_syntax_error_in_a_package(cli, package):
    edit_manifest(package, "name: iris", "name: [iris")
    result = cli("inspect", package)
    assert_error(result, "baton.yaml:", "YAML syntax error")
    location = result.err.split("baton.yaml:")[1].split(":")
    assert location[0].isdigit() and location[1].isdigit()  # line and column


def test_unknown_key_suggests_the_nearest(cli, package):
    edit_manifest(package, "retraining:", "retrainig:")
    assert_error(cli("inspect", package), "unknown key `retrainig`",
                 "did you mean `retraining`?")


def test_wrong_type_names_the_field_and_line(cli, package):
    edit_manifest(package, "rows: 20", "rows: twenty")
    result = cli("inspect", package)
    assert_error(result, "`golden.rows`", "'twenty'")
    line = int(result.err.split("baton.yaml:")[1].split(":")[0])
    assert (package / "baton.yaml").read_text().splitlines()[line - 1].strip() == "rows: twenty"


def test_manifest_paths_must_stay_inside_the_package(cli, package):
    edit_manifest(package, "- path: data/golden.json", "- path: ../../etc/passwd")
    assert_error(cli("inspect", package), "`files.0.path`",
                 "'../../etc/passwd' is not a relative path inside the package")


def test_artifact_must_be_a_listed_file(cli, package, tmp_path):
    (package / "model" / "model.skops").rename(package / "other.skops")
    edit_manifest(package, "artifact: model/model.skops", "artifact: other.skops")
    edit_manifest(package, "- path: model/model.skops", "- path: other.skops")
    modelbaton.open_package(package)  # a consistent listing, so the files check passes
    edit_manifest(package, "- path: other.skops", "- path: model/model.skops")
    (package / "other.skops").rename(package / "model" / "model.skops")
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2")
    assert_error(cli("predict", package, "--input", csv),
                 "the model artifact other.skops is not among the files the manifest lists")


def test_typo_in_the_draft_given_to_pack(cli, tmp_path, packed, iris):
    import skops.io as sio

    X, _ = iris
    sio.dump(packed[1], tmp_path / "model.skops")
    X.to_csv(tmp_path / "sample.csv", index=False)
    (tmp_path / "baton.yaml").write_text("apiVersion: baton/v1\nname: iris\nversion: '1'\n"
                                         "owners:\n  trainig: {name: Dana}\n")
    assert_error(cli("pack", tmp_path / "model.skops", "--sample", tmp_path / "sample.csv",
                     "--config", tmp_path / "baton.yaml", "--out", tmp_path / "pkg"),
                 "baton.yaml:5:", "unknown key `owners.trainig`", "did you mean `training`?")
    assert not (tmp_path / "pkg").exists()


# --- packing -----------------------------------------------------------------------------


@pytest.fixture
def saved_model(tmp_path, packed):
    import skops.io as sio

    sio.dump(packed[1], tmp_path / "model.skops")
    return tmp_path / "model.skops"


def pack_with(cli, tmp_path, saved_model, sample, *extra):
    return cli("pack", saved_model, "--sample", sample, "--out", tmp_path / "pkg", "--name",
               "iris", "--version", "1", *extra)


def test_unknown_flavor_suggests_sklearn(cli, tmp_path, saved_model, iris):
    iris[0].to_csv(tmp_path / "sample.csv", index=False)
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "sample.csv", "--flavor",
                           "sklaern"), "unknown flavor 'sklaern'", "did you mean 'sklearn'?")


def test_unknown_model_file_suffix(cli, tmp_path, iris):
    (tmp_path / "model.bin").write_bytes(b"\0")
    iris[0].to_csv(tmp_path / "sample.csv", index=False)
    assert_error(pack_with(cli, tmp_path, tmp_path / "model.bin", tmp_path / "sample.csv"),
                 "cannot tell the model library of model.bin", "--flavor")


def test_sample_with_lists_in_a_column(cli, tmp_path, saved_model):
    rows = [{"sepal_length": 5.1, "sepal_width": [3.5], "petal_length": 1.4,
             "petal_width": 0.2}] * 3
    (tmp_path / "sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "sample.jsonl"),
                 "column 'sepal_width' holds values of type list")
    assert not (tmp_path / "pkg").exists()


def test_sample_with_dicts_in_a_column(cli, tmp_path, saved_model):
    rows = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": {"cm": 1.4},
             "petal_width": 0.2}] * 3
    (tmp_path / "sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "sample.jsonl"),
                 "column 'petal_length' holds values of type dict")


def test_sample_with_mixed_types_in_a_column(cli, tmp_path, saved_model):
    rows = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
             "petal_width": value} for value in (0.2, "wide", 0.3)]
    (tmp_path / "sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "sample.jsonl"),
                 "column 'petal_width' holds values of type float, str", "one type per column")


def test_empty_sample(cli, tmp_path, saved_model):
    (tmp_path / "header.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n")
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "header.csv"),
                 "the sample input has no rows")
    (tmp_path / "nothing.csv").write_text("")
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "nothing.csv"),
                 "nothing.csv is empty")
    assert not (tmp_path / "pkg").exists()


def test_sample_that_is_not_what_the_model_takes(cli, tmp_path, saved_model, iris):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n3,4\n")
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "other.csv"),
                 "the sample lacks columns the model was fitted with: sepal_length")
    X, y = iris
    X.assign(species=y).to_csv(tmp_path / "labelled.csv", index=False)
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "labelled.csv"),
                 "the sample has columns the model was not fitted with: species",
                 "--drop species")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".pkg", "pkg"))] == []


def test_a_model_failing_on_the_sample_is_one_line(tmp_path, iris):
    X, _ = iris

    class Broken:
        def predict(self, frame):
            raise ValueError("first line of the complaint\n  and its second line")

    with pytest.raises(modelbaton.BatonError) as info:
        modelbaton.pack(Broken(), tmp_path / "pkg", sample_input=X, name="b", version="1",
                        allow_pickle=True)
    assert str(info.value).startswith("the model failed to predict on the sample: ValueError: "
                                      "first line of the complaint and its second line")


def test_missing_sample_and_model_files(cli, tmp_path, saved_model):
    assert_error(pack_with(cli, tmp_path, saved_model, tmp_path / "none.csv"),
                 "none.csv does not exist")
    assert_error(pack_with(cli, tmp_path, tmp_path / "none.skops", tmp_path / "none.csv"),
                 "model file", "does not exist")


# --- predicting --------------------------------------------------------------------------


def write_csv(path, header, *rows):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


HEADER = "sepal_length,sepal_width,petal_length,petal_width"


def test_predict_with_a_missing_column(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", "sepal_length,sepal_width,petal_length",
                    "5.1,3.5,1.4")
    assert_error(cli("predict", package, "--input", csv),
                 "in.csv: field 'petal_width': is required (number)")


def test_predict_with_an_extra_column(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", HEADER + ",colour", "5.1,3.5,1.4,0.2,blue")
    assert_error(cli("predict", package, "--input", csv),
                 "in.csv: column 'colour' is not an input of this model", "--keep colour")


def test_predict_with_a_mistyped_value_names_row_and_field(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2", "4.9,3.0,1.4,0.2",
                    "4.7,wide,1.3,0.2")
    assert_error(cli("predict", package, "--input", csv),
                 "in.csv: row 2, field 'sepal_width': expected number, got 'wide'")


def test_predict_with_an_out_of_range_and_a_null_value(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,35,1.4,0.2")
    assert_error(cli("predict", package, "--input", csv),
                 "row 0, field 'sepal_width': 35 is outside [2, 4.4]")
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2", "5.1,,1.4,0.2")
    assert_error(cli("predict", package, "--input", csv),
                 "row 1, field 'sepal_width': is missing but not nullable")


def test_predict_with_a_ragged_csv_names_the_line(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2", "4.9,3.0")
    assert_error(cli("predict", package, "--input", csv), "in.csv:3: 2 values for 4 columns")


def test_predict_with_broken_jsonl_names_the_line(cli, package, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"sepal_length": 5.1}\n{"sepal_length": \n')
    assert_error(cli("predict", package, "--input", path), "in.jsonl:2: invalid JSON")


def test_predict_with_an_unsupported_file(cli, package, tmp_path):
    (tmp_path / "in.xlsx").write_bytes(b"PK")
    assert_error(cli("predict", package, "--input", tmp_path / "in.xlsx"),
                 "unsupported file type '.xlsx'")
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2")
    assert_error(cli("predict", package, "--input", csv, "--output", tmp_path / "out.xlsx"),
                 "unsupported output type '.xlsx'")
    assert not (tmp_path / "out.xlsx").exists()


def test_predict_keep_names_a_missing_column(cli, package, tmp_path):
    csv = write_csv(tmp_path / "in.csv", HEADER, "5.1,3.5,1.4,0.2")
    assert_error(cli("predict", package, "--input", csv, "--keep", "id"),
                 "--keep column 'id' is not in the file")


def test_python_api_errors_name_row_and_field(packed, iris):
    X, _ = iris
    predictor = modelbaton.load(packed[0])
    bad = X.head(4).astype(object)
    bad.loc[3, "petal_length"] = True
    with pytest.raises(modelbaton.BatonError) as info:
        predictor.predict(bad)
    assert str(info.value).startswith("row 3, field 'petal_length': expected number, got True")
    np.testing.assert_array_equal(predictor.predict(X.head(4)), packed[1].predict(X.head(4)))


def test_debug_shows_the_traceback(cli, package):
    (package / "data" / "golden.json").unlink()
    with pytest.raises(modelbaton.BatonError):
        cli("inspect", package, "--debug")


# --- the table: every command, every kind of bad input -----------------------------------
#
# Each row is a command line with placeholders ({pkg}: the packed iris model, shared and
# never changed; {tmp}: a fresh folder; {csv}: valid inputs; {dir}: an empty folder;
# {garbage}: random bytes named .csv; {model}: the saved model), the fragments its one-line
# error must hold, and an output path (under {tmp}) that must not exist afterwards.

BAD_INPUT = [
    # Click's usage errors: one line, the command and where to read more.
    ("unknown-option", ["inspect", "{pkg}", "--nope"],
     ["baton inspect: no such option: --nope", "`baton inspect --help`"], None),
    ("missing-argument", ["inspect"], ["baton inspect: missing argument"], None),
    ("unknown-command", ["inspekt"], ["no such command 'inspekt'", "Did you mean 'inspect'?"],
     None),
    ("not-a-number", ["bench", "{pkg}", "--duration", "abc", "--no-write"],
     ["baton bench: invalid value for '--duration'"], None),
    ("missing-required-option", ["pack", "{model}", "--out", "{tmp}/pkg"],
     ["baton pack: missing option '--sample'"], "pkg"),
    # Files that are folders, binary or missing.
    ("predict-input-folder", ["predict", "{pkg}", "--input", "{dir}"],
     ["data file", "is a folder, not a file"], None),
    ("predict-input-binary", ["predict", "{pkg}", "--input", "{garbage}"],
     ["garbage.csv:", "not a readable CSV file", "UTF-8"], None),
    ("pack-sample-folder", ["pack", "{model}", "--sample", "{dir}", "--out", "{tmp}/pkg",
                            "--name", "a", "--version", "1"],
     ["data file", "is a folder, not a file"], "pkg"),
    ("pack-model-folder", ["pack", "{dir}", "--sample", "{csv}", "--out", "{tmp}/pkg",
                           "--name", "a", "--version", "1"],
     ["model file", "is a folder, not a file"], "pkg"),
    ("pack-binary-requirements", ["pack", "{model}", "--sample", "{csv}", "--out", "{tmp}/pkg",
                                  "--name", "a", "--version", "1", "--requirements",
                                  "{garbage}"],
     ["requirements file", "garbage.csv is not UTF-8 text"], "pkg"),
    ("pack-empty-parent-version", ["pack", "{model}", "--sample", "{csv}", "--out",
                                   "{tmp}/pkg", "--name", "a", "--version", "1",
                                   "--parent-version", ""],
     ["parent_version must name the version this one replaces"], "pkg"),
    ("check-config-folder", ["check", "{pkg}", "--no-receipt", "--config", "{dir}"],
     ["config file", "is a folder, not a file"], None),
    ("check-config-binary", ["check", "{pkg}", "--no-receipt", "--config", "{garbage}"],
     ["config file", "garbage.csv is not UTF-8 text"], None),
    ("pack-draft-folder", ["pack", "{model}", "--sample", "{csv}", "--out", "{tmp}/pkg",
                           "--config", "{dir}"], ["manifest", "is a folder, not a file"], "pkg"),
    ("inspect-empty-argument", ["inspect", ""], ["the package argument is empty"], None),
    ("sign-key-folder", ["sign", "{pkg}", "--key", "{dir}"],
     ["key file", "is a folder, not a file"], None),
    ("drift-current-binary", ["drift", "{pkg}", "{garbage}"],
     ["garbage.csv: not a readable CSV file"], None),
    # Outputs into a folder that does not exist, or onto a folder: nothing is written
    # (a package's missing folders are made, as `mkdir -p`; a file in their way is not).
    ("pack-out-under-a-file", ["pack", "{model}", "--sample", "{csv}", "--out",
                               "{csv}/pkg", "--name", "a", "--version", "1"],
     ["cannot pack into", "good.csv is a file, not a folder"], None),
    ("predict-output-missing-folder", ["predict", "{pkg}", "--input", "{csv}", "--output",
                                       "{tmp}/no/out.csv"],
     ["--output", "no/out.csv: the folder", "does not exist"], "no"),
    ("predict-output-folder", ["predict", "{pkg}", "--input", "{csv}", "--output", "{dir}.csv"],
     ["--output", "is a folder"], None),
    ("check-json-missing-folder", ["check", "{pkg}", "--no-receipt", "-f", "json", "-o",
                                   "{tmp}/no/check.json"], ["--output", "does not exist"], "no"),
    ("check-junit-missing-folder", ["check", "{pkg}", "--no-receipt", "-f", "junit", "-o",
                                    "{tmp}/no/junit.xml"], ["--output", "does not exist"], "no"),
    ("check-output-folder", ["check", "{pkg}", "--no-receipt", "-f", "markdown", "-o", "{dir}"],
     ["--output", "is a folder"], None),
    ("report-markdown-missing-folder", ["report", "{pkg}", "-f", "markdown", "-o",
                                        "{tmp}/no/card.md"], ["--output", "does not exist"],
     "no"),
    ("drift-html-missing-folder", ["drift", "{pkg}", "{csv}", "--html", "{tmp}/no/d.html"],
     ["--html", "no/d.html: the folder", "does not exist"], "no"),
    ("drift-html-folder", ["drift", "{pkg}", "{csv}", "--html", "{dir}"],
     ["--html", "is a folder"], None),
    ("grafana-missing-folder", ["monitor", "--grafana", "{tmp}/no/g.json"],
     ["--grafana", "does not exist"], "no"),
    ("keys-out-missing-folder", ["keys", "generate", "--name", "k", "--out", "{tmp}/no/k.pem"],
     ["--out", "does not exist"], "no"),
    ("keys-name-with-a-path", ["keys", "generate", "--name", "../../k"],
     ["key name '../../k' cannot name a file"], None),
    ("keys-empty-name", ["keys", "generate", "--name", "", "--out", "{tmp}/k.pem"],
     ["key name '' cannot name a file"], "k.pem"),
    ("export-under-a-file", ["export", "mlflow", "{pkg}", "{csv}/deeper/model"],
     ["cannot export to", "good.csv is a file, not a folder"], None),
    # Numbers: empty, zero, negative, NaN, infinite, absurd.
    ("bench-duration-nan", ["bench", "{pkg}", "--duration", "nan", "--no-write"],
     ["--duration nan must be more than 0"], None),
    ("bench-duration-huge", ["bench", "{pkg}", "--duration", "1e400", "--no-write"],
     ["--duration inf must be more than 0 and at most 3600 seconds"], None),
    ("bench-duration-negative", ["bench", "{pkg}", "--duration", "-1", "--no-write"],
     ["--duration -1 must be more than 0"], None),
    ("bench-compare-empty", ["bench", "{pkg}", "--compare", "", "--no-write"],
     ["--compare is empty"], None),
    ("drift-window-empty", ["drift", "{pkg}", "{csv}", "--window", ""],
     ["--window '' is not a duration"], None),
    ("drift-window-zero", ["drift", "{pkg}", "{csv}", "--window", "0h"],
     ["--window '0h' is not a duration"], None),
    ("drift-window-absurd", ["drift", "{pkg}", "{csv}", "--window", "99999999999999999999d"],
     ["--window '99999999999999999999d' is longer than a century"], None),
    ("drift-threshold-nan", ["drift", "{pkg}", "{csv}", "--threshold", "psi_alert=nan"],
     ["--threshold psi_alert: 'nan' must be a number of 0 or more"], None),
    ("drift-threshold-negative", ["drift", "{pkg}", "{csv}", "--threshold", "min_rows=-5"],
     ["--threshold min_rows: '-5' must be a number of 0 or more"], None),
    ("monitor-every-zero", ["monitor", "{pkg}", "{dir}", "--every", "0"],
     ["--every '0' is not a duration"], None),
    ("monitor-every-absurd", ["monitor", "{pkg}", "{dir}", "--every", "99999999999999999999d"],
     ["--every", "is longer than a century"], None),
    ("monitor-runs-negative", ["monitor", "{pkg}", "{dir}", "--runs", "-3"],
     ["--runs -3 must be at least 1"], None),
    ("monitor-port-out-of-range", ["monitor", "{pkg}", "{dir}", "--port", "99999"],
     ["--port 99999 is out of range"], None),
    ("monitor-webhook-not-http", ["monitor", "{pkg}", "{dir}", "--webhook", "ftp://x/y"],
     ["--webhook 'ftp://x/y' is not an http(s) URL"], None),
    ("monitor-webhook-empty-secret-env", ["monitor", "{pkg}", "{dir}", "--webhook",
                                          "http://127.0.0.1:9/x", "--secret-env", ""],
     ["--secret-env is empty"], None),
    ("monitor-log-is-a-file", ["monitor", "{pkg}", "{csv}", "--once"],
     ["the prediction log folder", "is a file"], None),
    ("compare-bootstrap-absurd", ["compare", "{pkg}", "{pkg}", "{csv}", "--bootstrap",
                                  "99999999999999999999"],
     ["--bootstrap 99999999999999999999 must be between 100 and 100,000"], None),
    ("compare-latency-nan", ["compare", "{pkg}", "{pkg}", "{csv}", "--latency-p99-ms", "nan"],
     ["--latency-p99-ms nan must be a positive number"], None),
    ("compare-window-empty", ["compare", "{pkg}", "{pkg}", "{csv}", "--window", ""],
     ["--window '' is not a duration"], None),
    # verify's flags are checked before any clean room is built.
    ("verify-env-manager-empty", ["verify", "{pkg}", "--env-manager", ""],
     ["--env-manager '' is not one of uv, venv, local"], None),
    ("verify-python-empty", ["verify", "{pkg}", "--python", ""], ["--python is empty"], None),
    ("verify-python-not-a-program", ["verify", "{pkg}", "--python", "{csv}"],
     ["--python", "good.csv is not an executable program"], None),
    ("demo-folder-is-a-file", ["demo", "{csv}"], ["good.csv is a file, not a folder"], None),
]


@pytest.mark.parametrize("args, fragments, leftover",
                         [pytest.param(*row[1:], id=row[0]) for row in BAD_INPUT])
def test_bad_input_table(cli, packed, saved_model, tmp_path, args, fragments, leftover):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.csv").mkdir()  # a folder where an output file would go
    (tmp_path / "garbage.csv").write_bytes(bytes(range(256)) * 8)
    write_csv(tmp_path / "good.csv", HEADER, "5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3")
    places = {"{pkg}": str(packed[0]), "{tmp}": str(tmp_path), "{dir}": str(tmp_path / "empty"),
              "{csv}": str(tmp_path / "good.csv"), "{garbage}": str(tmp_path / "garbage.csv"),
              "{model}": str(saved_model)}
    argv = []
    for arg in args:
        for key, value in places.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    assert_error(cli(*argv), *fragments)
    if leftover is not None:
        assert not (tmp_path / leftover).exists()
    # Nothing half-written beside the outputs either: no temporary or staging files.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_usage_errors_keep_help_working(cli):
    result = cli("drift", "--help")
    assert result.code == 0 and "--window" in result.out and result.err == ""


def test_an_atomic_output_is_whole_or_absent(tmp_path):
    from modelbaton.contract.errors import BatonError
    from modelbaton.contract.files import atomic_output, write_text

    target = write_text(tmp_path / "out.txt", "first\n")
    with pytest.raises(BatonError, match="cannot write"):
        with atomic_output(target) as tmp:
            tmp.write_text("half of the sec")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"version": None}, "version must be a non-empty string, not None"),
    ({"name": ""}, "name must be a non-empty string, not ''"),
    ({"path": None}, "path must name the package folder or .baton file, not None"),
    ({"parent_version": " "}, "parent_version must name the version this one replaces"),
    ({"requirements": "no-such.lock"}, "requirements file no-such.lock does not exist"),
], ids=["version-none", "name-empty", "path-none", "parent-version-blank",
        "missing-requirements"])
def test_pack_api_arguments(packed, iris, tmp_path, monkeypatch, kwargs, fragment):
    monkeypatch.chdir(tmp_path)
    arguments = {"path": "pkg", "sample_input": iris[0], "name": "iris", "version": "1",
                 **kwargs}
    with pytest.raises(modelbaton.BatonError) as info:
        modelbaton.pack(packed[1], **arguments)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_pack_makes_the_missing_folders_of_its_path_but_not_through_a_file(packed, iris,
                                                                            tmp_path):
    made = modelbaton.pack(packed[1], tmp_path / "out" / "2026" / "iris", sample_input=iris[0],
                           name="iris", version="1")
    assert (made / "baton.yaml").is_file()
    (tmp_path / "notes.txt").write_text("a file where a folder would go\n")
    with pytest.raises(modelbaton.BatonError, match="notes.txt is a file, not a folder"):
        modelbaton.pack(packed[1], tmp_path / "notes.txt" / "iris", sample_input=iris[0],
                        name="iris", version="1")
    assert (tmp_path / "notes.txt").read_text() == "a file where a folder would go\n"


def test_signing_with_the_public_key_names_the_private_one(cli, packed, tmp_path):
    assert cli("keys", "generate", "--name", "dana", "--out", tmp_path / "dana.pem").code == 0
    public = tmp_path / "dana.pub"  # mode 0644, as written: the kind of key is the news
    before = sorted(packed[0].rglob("*"))
    assert_error(cli("sign", packed[0], "--key", public), "dana.pub is a public key",
                 "dana.pem")
    assert sorted(packed[0].rglob("*")) == before  # no signature receipt written

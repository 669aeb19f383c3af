"""Bad input to `baton serve`: every malformed request to /predict and the v2 infer endpoint
is a 4xx JSON error naming the field (never a 500, never a crashed worker, never a row in
the prediction log), and every bad server setting is one `error:` line naming the option,
exit code 2, before anything is served."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from serve_helpers import quirky_package, read_log, real_server

GOOD = {"x": 10.0, "n": 1, "colour": "red", "weight": 1.0}
INFER = "/v2/models/quirky/infer"


def tensors(**x_tensor):
    """One tensor per field of the quirky model, the x tensor changed by `x_tensor`."""
    return [{"name": "x", "shape": [1], "datatype": "FP64", "data": [10.0], **x_tensor},
            {"name": "n", "shape": [1], "datatype": "INT64", "data": [1]},
            {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]},
            {"name": "weight", "shape": [1], "datatype": "FP64", "data": [1.0]}]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return quirky_package(tmp_path_factory.mktemp("quirky"), "quirky", more_fields=True)


@pytest.fixture(scope="module")
def server(package, tmp_path_factory):
    """One real server on loopback with a prediction log and a 1 MB body limit."""
    logs = tmp_path_factory.mktemp("logs")
    with real_server(str(package), "--log-dir", str(logs), "--max-body-mb", "1",
                     "--log-roll-seconds", "0.2") as (url, process):
        yield url, process, logs


REQUESTS = [
    # (path, body: JSON value or raw bytes, status, what the error says)
    ("/predict", b"hello", 400, "not valid JSON"),
    ("/predict", b"", 400, "not valid JSON"),
    ("/predict", b'[{"x": NaN, "n": 1, "colour": "red", "weight": 1}]', 400, "not valid JSON"),
    ("/predict", b'[{"x": 1e400, "n": 1, "colour": "red", "weight": 1}]', 400,
     "not valid JSON"),
    ("/predict", b"[" * 5000 + b"]" * 5000, 400, "not valid JSON"),
    ("/predict", b"[" + b'{"x": 1},' * 200_000 + b"{}]", 413, "--max-body-mb"),
    ("/predict", [], 422, "no rows"),
    ("/predict", 5, 400, "expected a list of records or an object of columns"),
    ("/predict", [[1, 2, 3, 4]], 400, "row 0: expected an object"),
    ("/predict", [{**GOOD, "x": "ten"}], 422, "x"),
    ("/predict", [{**GOOD, "x": [[[1]]]}], 422, "x"),
    ("/predict", [{**GOOD, "n": 2**70}], 422, "n"),
    ("/predict", [{"x": 1, "n": 1, "weight": 1}], 422, "colour"),
    ("/predict", {"x": [1, 2], "n": [1], "colour": ["red"], "weight": [1]}, 400,
     "columns have different lengths"),
    ("/predict?proba=maybe", [GOOD], 400, "?proba='maybe'"),
    (INFER, {}, 400, "'inputs' must be a non-empty list"),
    (INFER, {"inputs": [5]}, 400, "inputs[0]: expected a tensor object"),
    (INFER, {"inputs": tensors(shape=[-1])}, 400, "input 'x': 'shape' must be a list of "
                                                   "non-negative integers"),
    (INFER, {"inputs": tensors(shape=[2**62, 2**62])}, 400, "input 'x'"),
    (INFER, {"inputs": tensors(datatype="FLOAT")}, 400, "unknown datatype 'FLOAT'"),
    (INFER, {"inputs": tensors(data=[1.0, 2.0])}, 400, "2 values do not fill shape [1]"),
    (INFER, {"inputs": tensors(data=["a"])}, 422, "x"),
    (INFER, {"inputs": tensors(parameters="fast")}, 400, "input 'x': 'parameters' must be an "
                                                         "object"),
    (INFER, {"inputs": tensors(), "parameters": [1]}, 400, "'parameters' must be an object"),
    (INFER, {"inputs": tensors(), "outputs": [{"name": "nope"}]}, 400, "unknown output 'nope'"),
    (INFER, {"inputs": tensors(), "id": 5}, 400, "'id' must be a string"),
    ("/v2/models/other/infer", {"inputs": tensors()}, 404, "unknown model 'other'"),
    ("/nope", {}, 404, "no route /nope"),
]


@pytest.mark.parametrize("path, body, status, message", REQUESTS,
                         ids=[f"{r[0]} {str(r[1])[:30]}" for r in REQUESTS])
def test_malformed_requests_are_4xx_naming_the_field(server, path, body, status, message):
    url, process, _ = server
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(url + path, content=content, timeout=30,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert message in error["error"] and error["id"]
    assert "Traceback" not in response.text
    # The worker is alive and still answers.
    assert httpx.post(url + "/predict", json=[GOOD], timeout=30).status_code == 200
    assert process.poll() is None


def test_unknown_parameters_are_ignored_as_the_protocol_says(server):
    url, _, _ = server
    response = httpx.post(url + INFER, json={"inputs": tensors(), "parameters": {"x": 1},
                                              "id": "mine"}, timeout=30)
    assert response.status_code == 200 and response.json()["id"] == "mine"


def test_refused_requests_leave_no_row_in_the_prediction_log(package, tmp_path):
    logs = tmp_path / "logs"
    with real_server(str(package), "--log-dir", str(logs)) as (url, _):
        for _path, body, _status, _message in REQUESTS[:12]:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            assert httpx.post(url + "/predict", content=content, timeout=30).status_code >= 400
        answered = httpx.post(url + "/predict", json=[GOOD, {**GOOD, "x": 90.0}], timeout=30)
        assert answered.status_code == 200
    log = read_log(logs)  # the server stopped: the log is flushed
    assert log["input.x"].tolist() == [10.0, 90.0]


SETTINGS = [
    # (options, what the one line says)
    (["--port", "70000"], "--port 70000 is out of range"),
    (["--host", "no such host!"], "--host 'no such host!' is not a host name or address"),
    (["--host", "nonexistent.invalid", "--port", "0"], "--host nonexistent.invalid: cannot "
                                                       "resolve it"),
    (["--workers", "0"], "--workers must be positive, got 0"),
    (["--workers", "-3"], "--workers must be positive, got -3"),
    (["--max-batch-size", "0"], "--max-batch-size must be positive"),
    (["--max-latency-ms", "nan"], "--max-latency-ms must be 0 or more and at most 10000, got nan"),
    (["--max-latency-ms", "1e9"], "--max-latency-ms must be 0 or more and at most 10000"),
    (["--max-body-mb", "nan"], "--max-body-mb must be positive and at most"),
    (["--log-roll-mb", "0"], "--log-roll-mb must be positive and at most"),
    (["--log-roll-seconds", "inf"], "--log-roll-seconds must be positive, got inf"),
    (["--shadow", "no/such/folder"], "no/such/folder"),
]


@pytest.mark.parametrize("options, message", SETTINGS, ids=[" ".join(s[0]) for s in SETTINGS])
def test_bad_settings_are_one_line_before_serving(cli, package, options, message):
    result = cli("serve", package, *options)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        result.err


def test_a_port_in_use_and_a_log_dir_that_is_a_file(cli, package, tmp_path):
    (tmp_path / "file").write_text("x")
    result = cli("serve", package, "--log-dir", tmp_path / "file", "--port", "0")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"error: --log-dir {tmp_path / 'file'} is a file, not a folder (hint: give a folder "
        "(it is created if missing))"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli("serve", package, "--port", port)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"error: --port {port}: another program is already listening on 127.0.0.1:{port} "
        "(hint: pick another with --port, or --port 0 for a free one)"]

"""`baton serve`: validation, /predict, the Open Inference Protocol, metrics, the prediction
log, micro-batching, overload and model failures, in-process over ASGI."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import churn_data, quirky_package, read_log, run, running
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelbaton
from modelbaton.serve import ServeOptions
from modelbaton.serve.inference import Inference, Job


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """A scikit-learn pipeline on numbers, an integer and a category, packed."""
    frame, y = churn_data()
    pre = ColumnTransformer([("num", StandardScaler(), ["tenure", "charges"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])
    model = make_pipeline(pre, RandomForestClassifier(10, random_state=0)).fit(frame, y)
    path = modelbaton.pack(model, tmp_path_factory.mktemp("churn") / "churn", name="churn",
                           version="2", sample_input=frame)
    return path, modelbaton.load(path), frame


@pytest.fixture(scope="module")
def quirky(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quirky")
    return quirky_package(folder, "quirky", cut=50.0)


def options(path, **kwargs) -> ServeOptions:
    return ServeOptions(package=str(path), **kwargs)


def metric(text: str, sample_name: str, **labels: str) -> float:
    """The summed value of the samples named so whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                total += sample.value
    return total


# --- /predict ----------------------------------------------------------------------------


def test_records_and_columns_give_the_models_own_answers(churn):
    path, predictor, frame = churn
    rows = frame.head(7)
    expected = predictor.predict_table(rows)

    async def main():
        async with running(options(path)) as client:
            records = await client.post("/predict?proba=true",
                                        json=rows.to_dict(orient="records"))
            columns = await client.post("/predict", json=rows.to_dict(orient="list"))
            return records, columns

    records, columns = run(main())
    assert records.status_code == 200 and columns.status_code == 200
    body = records.json()
    assert body["predictions"] == expected["prediction"].tolist()
    assert [p["1"] for p in body["probabilities"]] == expected["probability_1"].tolist()
    assert body["model_name"] == "churn" and body["model_version"] == "2"
    assert records.headers["x-request-id"] == body["id"]
    assert columns.json()["predictions"] == expected["prediction"].tolist()
    assert "probabilities" not in columns.json()


@pytest.mark.parametrize("change, everywhere, where", [
    (lambda r: r.pop("plan"), True, r"^input: field 'plan': is required"),
    (lambda r: r.pop("plan"), False, r"row 1, field 'plan': is missing but not nullable"),
    (lambda r: r.update(colour="red"), True, r"field 'colour': is not an input"),
    (lambda r: r.update(tenure="long"), False, r"row 1, field 'tenure': expected integer, "
                                               r"got 'long'"),
    (lambda r: r.update(tenure=2.5), False, r"row 1, field 'tenure': expected integer, got 2.5"),
    (lambda r: r.update(charges=1e6), False, r"row 1, field 'charges': 1000000 is outside"),
    (lambda r: r.update(plan="gold"), False, r"row 1, field 'plan': 'gold' is not one of"),
    (lambda r: r.update(charges=None), False, r"row 1, field 'charges': is missing but not "
                                              r"nullable"),
    (lambda r: r.update(plan=["basic"]), False, r"row 1, field 'plan': expected string"),
    (lambda r: r.update(tenure=2**70), False, r"row 1, field 'tenure': expected integer"),
])
def test_bad_input_is_a_422_naming_row_and_field(churn, change, everywhere, where):
    path, _, frame = churn
    records = frame.head(3).to_dict(orient="records")
    for record in records if everywhere else records[1:2]:
        change(record)

    async def main():
        async with running(options(path)) as client:
            bad = await client.post("/predict", json=records)
            good = await client.post("/predict", json=frame.head(3).to_dict(orient="records"))
            return bad, good, (await client.get("/metrics")).text

    bad, good, metrics = run(main())
    assert bad.status_code == 422, bad.text
    assert re.search(where, bad.json()["error"]), bad.json()["error"]
    problem = bad.json()["problems"][0]
    assert problem["field"] in ("plan", "colour", "tenure", "charges")
    assert metric(metrics, "baton_validation_failures_total", kind=problem["kind"]) >= 1
    assert metric(metrics, "baton_requests_total", endpoint="/predict", status="422") == 1
    assert good.status_code == 200  # the server goes on


def test_malformed_and_oversized_bodies(churn):
    path, _, frame = churn
    body = frame.head(50).to_dict(orient="records")

    async def main():
        async with running(options(path, max_body_bytes=2000)) as client:
            return [await client.post("/predict", content=b"{not json"),
                    await client.post("/predict", json=body),
                    await client.post("/predict", json="a string"),
                    await client.post("/predict", json=[1, 2]),
                    await client.post("/predict", json={"tenure": 1}),
                    await client.post("/predict", json=[]),
                    await client.post("/predict?proba=maybe", json=body[:1]),
                    await client.get("/nowhere"),
                    await client.get("/predict")]

    answers = run(main())
    assert [a.status_code for a in answers] == [400, 413, 400, 400, 400, 422, 400, 404, 405]
    assert "not valid JSON" in answers[0].json()["error"]
    assert "--max-body-mb" in answers[1].json()["error"]
    assert answers[3].json()["error"].startswith("row 0: expected an object")
    assert all("error" in a.json() and a.json()["id"] for a in answers)


def test_model_exception_is_a_500_with_the_request_id_and_the_server_goes_on(quirky, caplog):
    async def main():
        async with running(options(quirky)) as client:
            failed = await client.post("/predict", json=[{"x": 13.0, "n": 1}],
                                       headers={"X-Request-ID": "req-13"})
            fine = await client.post("/predict", json=[{"x": 80.0, "n": 1}])
            return failed, fine, (await client.get("/metrics")).text

    failed, fine, metrics = run(main())
    assert failed.status_code == 500
    assert failed.json()["id"] == "req-13" and "req-13" in failed.json()["error"]
    assert "cannot score x == 13" in failed.json()["error"]
    assert "req-13" in caplog.text and "Traceback" in caplog.text
    assert fine.status_code == 200 and fine.json()["predictions"] == [1]
    assert metric(metrics, "baton_model_errors_total", role="primary") == 1


def test_one_bad_request_never_spoils_its_batch(quirky, churn):
    """Merged requests: a bad or poisonous one gets its own answer, the others theirs."""
    predictor = modelbaton.load(quirky)
    inference = Inference(predictor)
    jobs = [Job("a", {"x": [10.0, 90.0], "n": [1, 2]}, 2, 0.0),
            Job("b", {"x": [20.0, "oops"], "n": [1, 2]}, 2, 0.0),
            Job("c", {"x": [13.0], "n": [3]}, 1, 0.0),
            Job("d", {"x": [70.0], "n": [4]}, 1, 0.0)]
    outcomes, calls = inference.run(jobs)
    assert outcomes[0].outputs["prediction"].tolist() == [0, 1]
    assert [(p.row, p.field, p.kind) for p in outcomes[1].problems] == [(1, "x", "type")]
    assert "cannot score x == 13" in outcomes[2].error
    assert outcomes[3].outputs["prediction"].tolist() == [1]
    # One model call for the batch failed; then each valid request ran alone.
    assert [[j.request_id for j in c.jobs] for c in calls] == [["a"], ["c"], ["d"]]


def test_concurrent_requests_are_merged_into_batches(churn):
    path, predictor, frame = churn
    rows = frame.head(40).to_dict(orient="records")
    expected = predictor.predict(frame.head(40)).tolist()

    async def main():
        async with running(options(path, max_batch_size=64)) as client:
            answers = await asyncio.gather(*[client.post("/predict", json=[r]) for r in rows])
            # Each batch is recorded just after its answers are sent: wait for the last one.
            for _ in range(200):
                metrics = (await client.get("/metrics")).text
                if metric(metrics, "baton_batch_size_rows_sum") >= 40:
                    break
                await asyncio.sleep(0.05)
            return answers, metrics

    answers, metrics = run(main())
    assert [a.json()["predictions"][0] for a in answers] == expected
    calls = metric(metrics, "baton_batch_size_rows_count")
    assert metric(metrics, "baton_batch_size_rows_sum") == 40
    assert calls < 40  # merged: fewer model calls than requests


def test_a_lone_request_is_answered_before_it_is_recorded_on_the_loop():
    """A lone request with a quick model runs on the event loop; its metrics, log and
    shadow hand-off follow its answer there, without waking the model thread."""
    import threading

    from modelbaton.serve.batching import Batcher
    from modelbaton.serve.inference import Call, Outcome

    recorded = []

    def answer(jobs):
        return [Outcome(outputs={"prediction": np.array([1])}) for _ in jobs], \
            [Call(list(jobs), {}, None, 0.0)]

    def after(calls):
        recorded.append((calls[0].jobs[0].request_id, threading.current_thread().name))

    async def main():
        batcher = Batcher(answer, after=after, max_batch_size=8, max_latency_ms=5,
                          max_queue=8)
        batcher.start()
        seen = []
        for i in range(30):
            await batcher.submit(Job(str(i), {"x": [1.0]}, 1, 0.0))
            seen.append(len(recorded))  # what was recorded when the answer came
            await asyncio.sleep(0)
        await batcher.stop()
        return seen, threading.current_thread().name

    seen, loop_thread = run(main())
    # The first calls run in the model thread until their time is measured; then on the
    # loop, each recorded right after its own answer.
    inline = [i for i, (_, thread) in enumerate(recorded) if thread == loop_thread]
    assert inline and inline == list(range(inline[0], 30))
    assert all(seen[i] == i for i in inline)
    assert [request for request, _ in recorded] == [str(i) for i in range(30)]

def test_overload_beyond_the_queue_is_a_503_with_retry_after(tmp_path):
    slow = quirky_package(tmp_path, "slow", cut=50.0, delay=0.3)

    async def main():
        async with running(options(slow, max_queue=2, max_batch_size=1)) as client:
            return await asyncio.gather(*[client.post("/predict", json=[{"x": 1.0, "n": 1}])
                                          for _ in range(8)])

    answers = run(main())
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) >= 2 and codes.count(503) >= 1 and set(codes) == {200, 503}
    rejected = next(a for a in answers if a.status_code == 503)
    assert int(rejected.headers["retry-after"]) >= 1
    assert "at capacity" in rejected.json()["error"]


# --- Open Inference Protocol v2 ----------------------------------------------------------


def test_open_inference_protocol(churn):
    path, predictor, frame = churn
    rows = frame.head(4)
    expected = predictor.predict_table(rows)
    tensors = [{"name": "tenure", "shape": [4], "datatype": "INT64",
                "data": rows["tenure"].tolist()},
               {"name": "charges", "shape": [4, 1], "datatype": "FP64",
                "data": [[v] for v in rows["charges"]]},
               {"name": "plan", "shape": [4], "datatype": "BYTES",
                "data": rows["plan"].tolist()}]

    async def main():
        async with running(options(path)) as client:
            return {
                "server": await client.get("/v2"),
                "live": await client.get("/v2/health/live"),
                "ready": await client.get("/v2/health/ready"),
                "meta": await client.get("/v2/models/churn"),
                "model_ready": await client.get("/v2/models/churn/versions/2/ready"),
                "infer": await client.post("/v2/models/churn/infer",
                                           json={"id": "abc", "inputs": tensors}),
                "some": await client.post("/v2/models/churn/versions/2/infer", json={
                    "inputs": tensors, "outputs": [{"name": "probability_1"}]}),
                "unknown": await client.get("/v2/models/other"),
                "old": await client.post("/v2/models/churn/versions/1/infer",
                                         json={"inputs": tensors}),
                "bad": await client.post("/v2/models/churn/infer", json={"inputs": [
                    {**tensors[0], "data": [1, 2, 3, 400]}, *tensors[1:]]}),
                "shape": await client.post("/v2/models/churn/infer", json={"inputs": [
                    {**tensors[0], "shape": [5]}, *tensors[1:]]}),
            }

    r = run(main())
    assert r["server"].json()["name"] == "baton"
    assert r["live"].json() == {"live": True} and r["ready"].json() == {"ready": True}
    meta = r["meta"].json()
    assert meta["name"] == "churn" and meta["versions"] == ["2"]
    assert [(t["name"], t["datatype"]) for t in meta["inputs"]] == [
        ("tenure", "INT64"), ("charges", "FP64"), ("plan", "BYTES")]
    assert r["model_ready"].json() == {"name": "churn", "ready": True}
    infer = r["infer"].json()
    assert infer["id"] == "abc" and r["infer"].headers["x-request-id"] == "abc"
    outputs = {o["name"]: o for o in infer["outputs"]}
    assert outputs["prediction"]["data"] == expected["prediction"].tolist()
    assert outputs["probability_1"]["data"] == expected["probability_1"].tolist()
    assert outputs["prediction"]["shape"] == [4] and outputs["prediction"]["datatype"] == "INT64"
    assert [o["name"] for o in r["some"].json()["outputs"]] == ["probability_1"]
    assert r["unknown"].status_code == 404 and "serves 'churn'" in r["unknown"].json()["error"]
    assert r["old"].status_code == 404
    assert r["bad"].status_code == 422
    assert "row 3, field 'tenure': 400 is outside" in r["bad"].json()["error"]
    assert r["shape"].status_code == 400 and "do not fill shape" in r["shape"].json()["error"]


def test_infer_takes_one_matrix_tensor_in_interface_order(quirky):
    async def main():
        async with running(options(quirky)) as client:
            return await client.post("/v2/models/quirky/infer", json={"inputs": [
                {"name": "input-0", "shape": [2, 2], "datatype": "FP64",
                 "data": [[10.0, 1], [90.0, 2]]}]})

    answer = run(main())
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [0, 1]


# --- metrics, OpenAPI --------------------------------------------------------------------


def test_metrics_follow_prometheus_conventions(churn):
    path, _, frame = churn

    async def main():
        async with running(options(path)) as client:
            await client.post("/predict", json=frame.head(5).to_dict(orient="records"))
            await client.post("/predict", json=[{"tenure": 1, "charges": 50.0, "plan": "x"}])
            return (await client.get("/metrics"))

    response = run(main())
    text = response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert metric(text, "baton_requests_total", endpoint="/predict", status="200") == 1
    assert metric(text, "baton_request_duration_seconds_count", endpoint="/predict") == 2
    assert metric(text, "baton_batch_size_rows_sum") == 5
    assert metric(text, "baton_validation_failures_total", field="plan", kind="category") == 1
    assert metric(text, "baton_predictions_total", role="primary") == 5
    assert metric(text, "baton_model_info", role="primary", name="churn", version="2") == 1
    assert metric(text, "baton_requests_in_flight") == 1  # this very /metrics request
    assert metric(text, "baton_model_latency_seconds_count", role="primary") == 1
    names = {f.name for f in text_string_to_metric_families(text)}
    assert all(n.startswith("baton_") for n in names if not n.startswith(("python_", "process_")))


def test_openapi_describes_the_real_fields(churn):
    path, _, _ = churn

    async def main():
        async with running(options(path)) as client:
            return (await client.get("/openapi.json")).json()

    doc = run(main())
    record = doc["components"]["schemas"]["Record"]
    assert list(record["properties"]) == ["tenure", "charges", "plan"]
    assert record["properties"]["tenure"]["type"] == "integer"
    assert record["properties"]["plan"]["enum"] == ["basic", "plus", "pro"]
    assert record["additionalProperties"] is False
    assert {"/predict", "/v2/models/{name}/infer", "/v2/health/ready"} <= set(doc["paths"])
    assert doc["paths"]["/v2/models/{name}/infer"]["post"]["parameters"][0]["schema"][
        "enum"] == ["churn"]


# --- the prediction log ------------------------------------------------------------------


def test_prediction_log_holds_every_answered_row(churn, tmp_path):
    path, predictor, frame = churn
    logs = tmp_path / "logs"

    async def main():
        async with running(options(path, log_dir=str(logs))) as client:
            answers = [await client.post("/predict", json=frame.iloc[i:i + 3].to_dict(
                orient="records"), headers={"X-Request-ID": f"r{i}"}) for i in range(0, 9, 3)]
            await client.post("/predict", json=[{"tenure": 1}])  # rejected: not logged
            assert not list(logs.glob("*.parquet"))  # still being written: invisible
            return answers

    answers = run(main())
    files = list(logs.iterdir())
    assert len(files) == 1 and re.fullmatch(r"predictions-\d{8}T\d{6}-\d+-\d{6}\.parquet",
                                            files[0].name)
    schema = pq.read_schema(files[0])
    assert str(schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("row").type) == "int32"
    assert str(schema.field("input.tenure").type) == "int64"
    assert str(schema.field("input.plan").type) == "string"
    assert str(schema.field("output.probability_1").type) == "double"
    log = read_log(logs)
    assert len(log) == 9
    assert log["request_id"].tolist() == [f"r{i}" for i in (0, 0, 0, 3, 3, 3, 6, 6, 6)]
    assert log["row"].tolist() == [0, 1, 2] * 3
    assert set(log["role"]) == {"primary"} and log["error"].isna().all()
    assert set(log["package_digest"]) == {predictor.digest}
    assert log["model_version"].eq("2").all() and (log["latency_ms"] > 0).all()
    assert log["input.charges"].tolist() == frame["charges"].head(9).tolist()
    assert log["output.prediction"].tolist() == [
        p for a in answers for p in a.json()["predictions"]]


def test_prediction_log_rolls_and_counts_what_it_drops(churn, tmp_path):
    path, _, frame = churn
    logs = tmp_path / "logs"

    async def main():
        async with running(options(path, log_dir=str(logs), log_roll_seconds=0.2,
                                   log_queue_rows=4)) as client:
            await client.post("/predict", json=frame.head(2).to_dict(orient="records"))
            while not list(logs.glob("*.parquet")):  # rolled by age, while serving
                await asyncio.sleep(0.05)
            await client.post("/predict", json=frame.head(2).to_dict(orient="records"))
            await client.post("/predict", json=frame.head(6).to_dict(orient="records"))
            return client.app

    app = run(main())
    metrics = app.state.service.metrics.exposition().decode()  # after shutdown: all recorded
    assert len(list(logs.glob("predictions-*.parquet"))) == 2
    assert not list(logs.glob(".*"))  # no half-written file left behind
    assert len(read_log(logs)) == 4
    assert metric(metrics, "baton_prediction_log_dropped_records_total") == 6


def test_unwritable_log_dir_is_refused_before_serving(churn, tmp_path, cli):
    path, _, _ = churn
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("serve", path, "--log-dir", blocker / "logs", "--port", "0")
    assert result.code == 2 and "--log-dir" in result.err and "cannot write" in result.err


@pytest.mark.parametrize("args, message", [
    (["--max-batch-size", "0"], "--max-batch-size must be positive"),
    (["--max-body-mb", "0"], "--max-body-mb must be positive"),
    (["--port", "70000"], "--port 70000 is out of range"),
    (["--max-latency-ms", "-1"], "--max-latency-ms must be 0 or more"),
])
def test_bad_serve_options_are_one_line_errors(churn, cli, args, message):
    result = cli("serve", churn[0], *args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_a_tampered_candidate_is_refused(churn, quirky, cli, tmp_path):
    import shutil

    candidate = tmp_path / "candidate"
    shutil.copytree(quirky, candidate)
    (candidate / "model" / "python.json").write_text("{}")
    result = cli("serve", churn[0], "--shadow", candidate, "--port", "0")
    assert result.code == 2 and "model/python.json differs" in result.err


def test_log_schema_is_the_documented_contract():
    """docs/prediction-log.md lists exactly the columns the writer produces."""
    from modelbaton.contract.manifest import FieldSpec
    from modelbaton.serve.predlog import log_schema

    schema = log_schema([FieldSpec(name="age", type="integer")],
                        [FieldSpec(name="prediction", type="string")])
    doc = (Path(__file__).parents[1] / "docs" / "prediction-log.md").read_text()
    for field in schema:
        name = re.sub(r"^(input|output)\..*", r"\1.<field>", field.name)
        assert f"`{name}`" in doc, name
    assert np.array_equal(schema.names[:8], ["timestamp", "request_id", "row", "role",
                                             "model_name", "model_version", "package_digest",
                                             "latency_ms"])

"""`baton check` and `baton report` on a package with 200 inputs and a 500 MB artifact.

Targets (issue 3): check under 3 s including digest verification, report under 2 s.

The model is a real ONNX network (200 inputs -> 655,360 hidden units -> 1 output) whose
first weight matrix is 500 MiB of float32; onnxruntime computes its golden outputs. Each
command runs as a user runs it, in a fresh process, timed wall-clock (median of 3, after a
warm-up run, so every run reads the files from the page cache).

Peers, in the same run: `sha256sum` over the package's files (the floor for verifying the
digests, which check and report both do) and a bare onnxruntime load + predict of the golden
rows (the floor for replaying them). The ratio says what Baton adds on top of them.

    python benchmarks/check_report.py [--rebuild]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "check_report"
PACKAGE = WORK / "wide-net-1.0"
FEATURES, HIDDEN = 200, 655_360  # 200 x 655,360 float32 = 500 MiB
BIN = Path(sys.executable).parent


def build(path: Path) -> None:
    """Write the package directly: the ONNX flavor's pack path needs a session object."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from modelbaton.contract.io import write_manifest
    from modelbaton.contract.manifest import (
        Environment,
        FieldSpec,
        Golden,
        Interface,
        Manifest,
        ModelSection,
    )
    from modelbaton.data.schema import infer_fields
    from modelbaton.package import capture
    from modelbaton.package.golden import write_golden
    from modelbaton.package.integrity import file_entries

    sys.path.insert(0, str(HERE.parent / "tests"))
    from _handoff import full_handoff

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    (path / "model").mkdir(parents=True)
    w1 = rng.standard_normal((FEATURES, HIDDEN), dtype=np.float32) * np.float32(0.05)
    w2 = rng.standard_normal((HIDDEN, 1), dtype=np.float32) * np.float32(0.01)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "wide_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    del w1
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              path / "model" / "model.onnx")
    del graph

    sample = {f"feature_{i:03d}": rng.normal(0, 1, 1000) for i in range(FEATURES)}
    inputs = infer_fields(sample)
    rows = {k: v[:20] for k, v in sample.items()}
    session = ort.InferenceSession(str(path / "model" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    matrix = np.column_stack(list(rows.values())).astype(np.float32)
    prediction = session.run(None, {"x": matrix})[0][:, 0].astype(np.float64)
    write_golden(path / "data" / "golden.json", rows, {"prediction": prediction})
    (path / "env").mkdir()
    (path / "env" / "requirements.lock").write_text(
        capture.lock_text(capture.pin_closure({"onnxruntime", "numpy"})), encoding="utf-8")

    handoff = full_handoff()
    handoff["data"]["datasets"][0].update(sha256="0" * 64, rows=1000)
    handoff["evaluation"]["metrics"][0]["name"] = "r2"
    handoff.pop("model")
    manifest = Manifest.model_validate({
        **handoff, "apiVersion": "baton/v1", "name": "wide-net", "version": "1.0",
        "model": ModelSection(flavor="onnx", artifact="model/model.onnx", serialization="onnx",
                              library="onnxruntime", library_version=ort.__version__,
                              architecture="MatMul 200x655360 -> Relu -> MatMul",
                              options={"input": "array"}).model_dump(),
        "interface": Interface(task="regression", inputs=inputs, outputs=[
            FieldSpec(name="prediction", type="number")]).model_dump(),
        "environment": Environment(python=capture.python_version(),
                                   platform=capture.platform_tag()).model_dump(),
        "golden": Golden(rows=20, rtol=1e-5, atol=1e-6).model_dump(),
        "lineage": capture.lineage(HERE).model_dump(),
    })
    write_manifest(manifest.model_copy(update={"files": file_entries(path)}),
                   path / "baton.yaml")
    size = (path / "model" / "model.onnx").stat().st_size
    print(f"built {path} ({size / 2**20:.0f} MiB artifact, {FEATURES} inputs) in "
          f"{time.perf_counter() - started:.0f} s")


def timed(argv: list[str], repeat: int = 3, **kwargs) -> tuple[float, float, str]:
    """Median wall-clock and CPU (user + system) seconds of a command, and its output."""
    subprocess.run(argv, capture_output=True, **kwargs)  # warm-up: page cache, bytecode
    walls, cpus, output = [], [], ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        output = done.stdout
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return statistics.median(walls), statistics.median(cpus), output


PEER_REPLAY = """
import json, sys, numpy as np, onnxruntime as ort
golden = json.load(open(sys.argv[1] + "/data/golden.json"))
session = ort.InferenceSession(sys.argv[1] + "/model/model.onnx",
                               providers=["CPUExecutionProvider"])
x = np.column_stack(list(golden["inputs"].values())).astype(np.float32)
got = session.run(None, {"x": x})[0][:, 0]
assert np.allclose(got, golden["outputs"]["prediction"], rtol=1e-5, atol=1e-6)
"""


def main() -> None:
    if "--rebuild" in sys.argv and PACKAGE.exists():
        import shutil

        shutil.rmtree(PACKAGE)
    if not PACKAGE.exists():
        build(PACKAGE)
    files = [str(p) for p in sorted(PACKAGE.rglob("*")) if p.is_file()
             and "receipts" not in p.parts]
    no_replay = WORK / "no-replay.toml"
    no_replay.write_text('[ignore]\nBTN221 = "benchmark: static rules only"\n')
    env = {**os.environ, "BATON_HOME": str(WORK / "home")}

    sha = timed(["sha256sum", *files])
    replay = timed([sys.executable, "-c", PEER_REPLAY, str(PACKAGE)])
    startup = timed([str(BIN / "baton"), "--help"], env=env)
    check = timed([str(BIN / "baton"), "check", str(PACKAGE), "--json", "--no-receipt"],
                  env=env)
    static = timed([str(BIN / "baton"), "check", str(PACKAGE), "--no-receipt", "--config",
                    str(no_replay)], env=env)
    report = timed([str(BIN / "baton"), "report", str(PACKAGE), "-o",
                    str(WORK / "report.html")], env=env)

    result = json.loads(check[2])
    slowest = sorted(result["rules"], key=lambda r: -r["seconds"])[:3]
    size = sum(os.path.getsize(f) for f in files)
    print(f"package: {FEATURES} inputs, {size / 2**20:.0f} MiB in {len(files)} files; "
          f"check passed={result['passed']} score={result['score']}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<46}{'wall s':>8}{'cpu s':>8}")
    for name, (wall, cpu, _) in [
        ("peer: sha256sum of every file", sha),
        ("peer: onnxruntime load + replay golden rows", replay),
        ("baton --help (interpreter + CLI start-up)", startup),
        ("baton check (all rules, digests, replay)", check),
        ("baton check, golden replay ignored", static),
        ("baton report (HTML)", report),
    ]:
        print(f"{name:<46}{wall:>8.2f}{cpu:>8.2f}")
    print("slowest rules in `baton check`: " + ", ".join(
        f"{r['id']} {r['name']} {r['seconds']:.2f} s" for r in slowest))
    floor = sha[0] + replay[0]
    print(f"check / (sha256sum + bare replay) = {check[0] / floor:.2f}x; "
          f"target check < 3 s: {'met' if check[0] < 3 else 'NOT met'} ({check[0]:.2f} s; "
          f"without the replay {static[0]:.2f} s)")
    print(f"report / sha256sum = {report[0] / sha[0]:.2f}x; "
          f"target report < 2 s: {'met' if report[0] < 2 else 'NOT met'} ({report[0]:.2f} s)")


if __name__ == "__main__":
    main()

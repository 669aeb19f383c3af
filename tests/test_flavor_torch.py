"""PyTorch: `torch.export` with a dynamic batch, and TorchScript; no pickle either way."""

from __future__ import annotations

import numpy as np
import pytest

import modelbaton
from modelbaton.contract.io import read_manifest

torch = pytest.importorskip("torch")

LABELS = ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def network(iris):
    """A small classifier trained on iris: its last layer gives one score per class."""
    X, y = iris
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    inputs = torch.tensor(X.to_numpy(np.float32))
    target = torch.tensor(y.map({k: i for i, k in enumerate(LABELS)}).to_numpy())
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), target).backward()
        optimizer.step()
    with torch.no_grad():
        scores = net.eval()(inputs).numpy()
    return net, scores


def assert_scores(predictor, X, scores):
    table = predictor.predict_table(X)
    assert list(table) == ["prediction", *(f"score_{k}" for k in LABELS)]
    np.testing.assert_array_equal(np.column_stack([table[f"score_{k}"] for k in LABELS]),
                                  scores)
    np.testing.assert_array_equal(table["prediction"],
                                  np.array(LABELS, dtype=object)[scores.argmax(axis=1)])


def test_module_is_exported_with_a_dynamic_batch(tmp_path, iris, network, hand_over):
    X, _ = iris
    net, scores = network
    path = modelbaton.pack(net, tmp_path / "net", sample_input=X, name="iris", version="1",
                           labels=LABELS)
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.serialization == "torch-export"
    assert manifest.model.artifact == "model/model.pt2"
    assert manifest.model.architecture == "Sequential(Linear -> ReLU -> Linear; 131 parameters)"
    assert manifest.interface.task == "classification"
    assert [f.name for f in manifest.interface.outputs] == [
        "prediction", *(f"score_{k}" for k in LABELS)]
    for predictor in hand_over(path).values():
        assert_scores(predictor, X, scores)
        # The batch dimension is dynamic: one row and the whole table both run.
        assert_scores(predictor, X.head(1), scores[:1])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_module(tmp_path, iris, network, hand_over):
    X, _ = iris
    net, scores = network
    path = modelbaton.pack(torch.jit.script(net), tmp_path / "ts", sample_input=X, name="iris",
                           version="1", labels=LABELS)
    manifest = read_manifest(path / "baton.yaml")
    assert manifest.model.serialization == "torchscript"
    assert manifest.model.architecture.startswith("Sequential(Linear -> ReLU -> Linear")
    for predictor in hand_over(path).values():
        assert_scores(predictor, X, scores)


def test_without_labels_outputs_are_numbered(tmp_path, iris, network):
    X, _ = iris
    net, scores = network
    predictor = modelbaton.load(modelbaton.pack(net, tmp_path / "net", sample_input=X,
                                                name="iris", version="1"))
    table = predictor.predict_table(X)
    assert list(table) == ["output_0", "output_1", "output_2"]
    np.testing.assert_array_equal(table["output_2"], scores[:, 2])
    assert predictor.manifest.interface.task == "other"


@pytest.mark.filterwarnings("ignore:`torch.jit.* is deprecated:DeprecationWarning")
def test_pack_saved_pt2_and_pt_files_through_the_cli(cli, tmp_path, iris, network):
    X, _ = iris
    net, scores = network
    example = torch.tensor(X.to_numpy(np.float32)[:4])
    program = torch.export.export(net, (example,),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "model.pt2"))
    torch.jit.save(torch.jit.trace(net, example), str(tmp_path / "model.pt"))
    X.to_csv(tmp_path / "sample.csv", index=False)
    labels = [arg for label in LABELS for arg in ("--label", label)]
    for name in ("model.pt2", "model.pt"):
        result = cli("pack", tmp_path / name, "--sample", tmp_path / "sample.csv", "--out",
                     tmp_path / f"pkg-{name}", "--name", "iris", "--version", "1", *labels)
        assert result.code == 0, result.err
        predictor = modelbaton.load(tmp_path / f"pkg-{name}")
        assert_scores(predictor, X, scores)

    (tmp_path / "pickled.pt").write_bytes(b"not a TorchScript archive")
    result = cli("pack", tmp_path / "pickled.pt", "--sample", tmp_path / "sample.csv",
                 "--out", tmp_path / "bad", "--name", "iris", "--version", "1")
    assert result.code == 2 and "PyTorch cannot read" in result.err
    assert "torch.export.save" in result.err and not (tmp_path / "bad").exists()

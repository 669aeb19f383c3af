"""ONNX, run by onnxruntime on the CPU.

One graph input takes the whole row matrix; several inputs take one column each, by name
(as skl2onnx writes them). A second output holding probabilities, as a tensor or as
skl2onnx's ZipMap, becomes the class probabilities.
"""

from __future__ import annotations

import mmap
import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import DataError, FlavorError
from ..contract.manifest import ModelSection
from ._onnx_split import split
from .base import Description, Flavor, Saved, as_matrix, module_root

_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(string)": object, "tensor(bool)": np.bool_,
}
_CLASSIFIER_OPS = ("TreeEnsembleClassifier", "LinearClassifier", "SVMClassifier")
#: TensorProto.DataType codes of the tensors `load_once` hands over as arrays.
_DTYPE_CODES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
                7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
                13: np.uint64}
_ITEMSIZES = {code: np.dtype(dtype).itemsize for code, dtype in _DTYPE_CODES.items()}
#: Smaller tensors are left in the graph: copying them costs less than handing them over.
_FROM_MEMORY_BYTES = 1 << 20
#: The arrays over a mapped file that a session built by `load_once` was given.
_BORROWED: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


class OnnxFlavor(Flavor):
    name = "onnx"
    module = "onnxruntime"
    distribution = "onnxruntime"
    extra = "onnx"
    suffixes = (".onnx",)

    @classmethod
    def handles(cls, model: Any) -> bool:
        if isinstance(model, (str, Path)):
            return str(model).endswith(".onnx")
        return module_root(model) == "onnx" and hasattr(model, "SerializeToString")

    def describe(self, model: Any) -> Description:
        graph = _graph(model)
        ops: dict[str, int] = {}
        for node in graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        shown = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in ops.items())
        labels = _class_labels(graph)
        return Description(
            architecture=f"ONNX graph {graph.name or ''} ({len(graph.node)} nodes: {shown})",
            hyperparameters={},
            labels=labels,
            task="classification" if labels is not None else None,
        )

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        path = model_dir / "model.onnx"
        data = Path(model).read_bytes() if isinstance(model, (str, Path)) \
            else model.SerializeToString()
        path.write_bytes(data)
        return Saved(artifact="model/model.onnx", serialization="onnx")

    def load(self, path: Path, section: ModelSection) -> Any:
        return self._session(path)

    def load_once(self, path: Path, section: ModelSection) -> Any:
        """The large tensors go to onnxruntime as arrays over the mapped file (see
        `_onnx_split`): the same session, built without parsing them as protobuf."""
        ort = self.import_library()
        options = ort.SessionOptions()
        if not hasattr(options, "add_external_initializers"):  # an older onnxruntime
            return self._session(path)
        with open(path, "rb") as handle:
            try:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file
                return self._session(path)
        with memoryview(data) as view:
            parts = split(view, path.name, _ITEMSIZES, _FROM_MEMORY_BYTES) \
                if sys.byteorder == "little" else None  # raw tensor bytes are little-endian
        if parts is None:
            return self._session(path)
        graph, tensors = parts
        values = [ort.OrtValue.ortvalue_from_numpy(np.frombuffer(
            data, _DTYPE_CODES[t.data_type], t.size // _ITEMSIZES[t.data_type], t.offset
        ).reshape(t.dims)) for t in tensors]
        options.add_external_initializers([t.name for t in tensors], values)
        session = self._new_session(graph, options, path.name)
        _BORROWED[session] = values  # onnxruntime may read them for as long as the session lives
        return session

    def read_file(self, path: Path) -> Any:
        return path

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        return np.asarray(self._run(model, inputs)[0])

    def predict_proba(self, model: Any, inputs: Any) -> np.ndarray | None:
        return self.predict_with_proba(model, inputs)[1]

    def predict_with_proba(self, model: Any, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self._run(model, inputs)
        first = np.asarray(outputs[0])
        if len(outputs) < 2:
            return first, None
        second = outputs[1]
        if isinstance(second, list) and second and isinstance(second[0], dict):  # ZipMap
            keys = list(second[0])
            return first, np.array([[row[k] for k in keys] for row in second], dtype=np.float64)
        return first, np.asarray(second)

    def wants_frame(self, model: Any) -> bool:
        """A graph with one input per column is fed by name, from a DataFrame."""
        if hasattr(model, "get_inputs"):
            return len(model.get_inputs()) > 1
        graph = _graph(model)
        weights = {init.name for init in graph.initializer}
        return len([i for i in graph.input if i.name not in weights]) > 1

    def _session(self, model: Any) -> Any:
        """An onnxruntime session for a loaded session, a ModelProto or a file."""
        if hasattr(model, "get_inputs"):
            return model
        if isinstance(model, (str, Path)):
            return self._new_session(str(model), None, Path(model).name)
        return self._new_session(model.SerializeToString(), None, "the ONNX model")

    def _new_session(self, source: str | bytes, options: Any, shown: str) -> Any:
        ort = self.import_library()
        try:
            return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise FlavorError(f"onnxruntime cannot load {shown}: {exc}") from None

    def _run(self, model: Any, inputs: Any) -> list[Any]:
        session = self._session(model)
        graph_inputs = session.get_inputs()
        if len(graph_inputs) == 1:
            spec = graph_inputs[0]
            feeds = {spec.name: as_matrix(inputs, _DTYPES.get(spec.type, np.float32))}
        else:
            columns = _columns(inputs)
            missing = [s.name for s in graph_inputs if s.name not in columns]
            if missing:
                raise DataError(f"the ONNX graph needs inputs {', '.join(missing)}")
            feeds = {s.name: np.asarray(columns[s.name]).astype(
                _DTYPES.get(s.type, np.float32)).reshape(-1, 1) for s in graph_inputs}
        return session.run(None, feeds)


def _columns(inputs: Any) -> dict[str, Any]:
    if hasattr(inputs, "columns"):
        return {str(c): inputs[c].to_numpy() for c in inputs.columns}
    raise DataError("this ONNX graph takes one input per column; pass named columns")


def _graph(model: Any) -> Any:
    try:
        import onnx
    except ImportError:
        from ..contract.errors import MissingExtraError

        raise MissingExtraError("onnx", "onnx") from None
    proto = onnx.load(str(model)) if isinstance(model, (str, Path)) else model
    return proto.graph


def _class_labels(graph: Any) -> list[Any] | None:
    """The class labels a classifier node records (skl2onnx graphs carry them)."""
    for node in graph.node:
        if node.op_type in _CLASSIFIER_OPS:
            for attr in node.attribute:
                if attr.name == "classlabels_int64s" and attr.ints:
                    return [int(v) for v in attr.ints]
                if attr.name == "classlabels_strings" and attr.strings:
                    return [v.decode() for v in attr.strings]
    return None

"""PyTorch as a `torch.export` program (or TorchScript): the graph and weights, no pickle.

A plain `nn.Module` is exported with a dynamic batch dimension, traced on the sample rows;
a ScriptModule or ExportedProgram is saved as it is. Inputs are one float matrix.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.errors import FlavorError
from ..contract.manifest import ModelSection
from .base import Description, Flavor, Saved, as_matrix, module_root

_NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64}


class TorchFlavor(Flavor):
    name = "torch"
    module = "torch"
    distribution = "torch"
    extra = "torch"
    suffixes = (".pt2", ".pt")

    @classmethod
    def handles(cls, model: Any) -> bool:
        return module_root(model) == "torch" or _is_module(model)

    def describe(self, model: Any) -> Description:
        module = _callable(model)
        params = sum(p.numel() for p in module.parameters()) if hasattr(module, "parameters") \
            else 0
        layers = [_kind(m) for m in module.children()] if hasattr(module, "children") else []
        shown = " -> ".join(layers) if layers else _kind(module)
        return Description(architecture=f"{_kind(model)}({shown}; {params:,} parameters)",
                           hyperparameters={"parameters": params})

    def save(self, model: Any, model_dir: Path, sample: Any = None) -> Saved:
        torch = self.import_library()
        dtype = "float32"
        if isinstance(model, torch.jit.ScriptModule):
            with _torchscript():
                torch.jit.save(model, str(model_dir / "model.pt"))
            return Saved("model/model.pt", "torchscript", options={"dtype": dtype})
        if isinstance(model, torch.export.ExportedProgram):
            torch.export.save(model, str(model_dir / "model.pt2"))
            return Saved("model/model.pt2", "torch-export", options={"dtype": dtype})
        if sample is None:
            raise FlavorError("exporting a PyTorch module needs sample rows",
                              hint="pass sample_input with at least two rows")
        example = torch.as_tensor(as_matrix(sample, np.float32))
        if example.shape[0] < 2:
            example = example.repeat(2, 1)
        model = model.eval()
        try:
            batch = torch.export.Dim("batch", min=1)
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        except Exception as export_error:  # fall back to tracing, which handles more modules
            try:
                with _torchscript(), torch.inference_mode():
                    traced = torch.jit.trace(model, example)
                    torch.jit.save(traced, str(model_dir / "model.pt"))
            except Exception:
                raise FlavorError(f"cannot export the PyTorch module: {export_error}",
                                  hint="export it yourself with torch.export and pass the "
                                       "ExportedProgram") from None
            return Saved("model/model.pt", "torchscript", options={"dtype": dtype})
        torch.export.save(program, str(model_dir / "model.pt2"))
        return Saved("model/model.pt2", "torch-export", options={"dtype": dtype})

    def load(self, path: Path, section: ModelSection) -> Any:
        torch = self.import_library()
        try:
            if section.serialization == "torch-export":
                return torch.export.load(str(path)).module()
            if section.serialization == "torchscript":
                with _torchscript():
                    return torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises many types for a damaged archive
            raise FlavorError(f"PyTorch cannot load {path.name}: {exc}") from None
        raise FlavorError(f"unknown PyTorch serialization '{section.serialization}'",
                          hint="expected torch-export or torchscript")

    def read_file(self, path: Path) -> Any:
        torch = self.import_library()
        try:
            if path.suffix == ".pt2":
                return torch.export.load(str(path))
            with _torchscript():
                return torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises many types for a file it cannot read
            raise FlavorError(f"PyTorch cannot read {path}: {exc}",
                              hint="save with torch.export.save (.pt2) or torch.jit.save (.pt)")

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        torch = self.import_library()
        if isinstance(model, torch.export.ExportedProgram):  # not callable itself
            model = model.module()
        tensor = torch.as_tensor(as_matrix(inputs, np.float32))
        with torch.inference_mode():
            out = _callable(model)(tensor)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.detach().cpu().numpy()

    def wants_frame(self, model: Any) -> bool:
        return False


@contextlib.contextmanager
def _torchscript() -> Iterator[None]:
    """TorchScript is deprecated in recent PyTorch, but packages made with it still load;
    whoever receives one is not the person who chose the format, so no warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit", DeprecationWarning)
        yield


def _callable(model: Any) -> Any:
    """What runs the model: an ExportedProgram runs through its `.module()`."""
    if type(model).__name__ == "ExportedProgram":
        return model.module()
    return model


def _kind(module: Any) -> str:
    """A module's class name; TorchScript keeps it as `original_name`."""
    return getattr(module, "original_name", None) or type(module).__name__


def _is_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module"
               for c in type(model).__mro__)

"""An ONNX file's graph apart from the bytes of its large tensors, for onnxruntime to take
those tensors from memory.

onnxruntime loading a file reads every tensor into a protobuf message (a string grown, and
so copied, as it reads), copies it into its own buffer, then lays it out for its kernels:
for a 500 MB network that is most of the load. Handed the graph with its large tensors
marked as external, and the tensors themselves as arrays over the file's bytes, it only
copies each into its buffer and lays it out. The graph, the tensors' bytes and so the
kernels and the outputs are the same.

Only the protobuf wire format is read here (field numbers from onnx.proto); anything
unexpected leaves a tensor, or the whole file, to onnxruntime's own loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer (TensorProto)
# TensorProto fields: a tensor with any field not named here is left as it is.
_DIMS, _DATA_TYPE, _NAME, _RAW_DATA, _DOC_STRING, _EXTERNAL_DATA, _DATA_LOCATION = \
    1, 2, 8, 9, 12, 13, 14
_PLAIN_TENSOR = {_DIMS, _DATA_TYPE, _NAME, _RAW_DATA, _DOC_STRING}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_LIMIT = 2**31  # protobuf's own limit: a larger file must fail as onnxruntime fails it


@dataclass(frozen=True)
class Tensor:
    """A graph initializer whose raw bytes are `size` bytes from `offset` in the file."""

    name: str
    data_type: int  # TensorProto.DataType
    dims: tuple[int, ...]
    offset: int
    size: int


def split(data: memoryview, location: str, itemsizes: dict[int, int],
          min_bytes: int) -> tuple[bytes, list[Tensor]] | None:
    """The model in `data` with every top-level initializer of a data type in `itemsizes`
    and at least `min_bytes` of raw data marked as external data (in the file `location`),
    and those initializers; None when there is none or the file is not as expected.
    """
    if len(data) >= _LIMIT:
        return None
    try:
        graphs = [(start, value, end) for number, wire, start, value, end
                  in _fields(data, 0, len(data)) if number == _MODEL_GRAPH and wire == _LEN]
        if len(graphs) != 1:  # protobuf would merge repeated graphs: leave that to it
            return None
        start, value, end = graphs[0]
        graph, tensors = _graph(data, value, end, location, itemsizes, min_bytes)
    except (IndexError, ValueError, UnicodeDecodeError):  # truncated, or not protobuf
        return None
    if not tensors:
        return None
    return bytes(data[:start]) + _len_field(_MODEL_GRAPH, graph) + bytes(data[end:]), tensors


def _graph(data: memoryview, start: int, end: int, location: str, itemsizes: dict[int, int],
           min_bytes: int) -> tuple[bytes, list[Tensor]]:
    out, copied, tensors = bytearray(), start, []
    for number, wire, field_start, value, field_end in _fields(data, start, end):
        if number != _GRAPH_INITIALIZER or wire != _LEN:
            continue
        tensor = _tensor(data, value, field_end, itemsizes)
        if tensor is None or tensor.size < min_bytes:
            continue
        out += data[copied:field_start]
        out += _len_field(_GRAPH_INITIALIZER, _placeholder(data, value, field_end, tensor,
                                                           location))
        copied = field_end
        tensors.append(tensor)
    out += data[copied:end]
    return bytes(out), tensors


def _tensor(data: memoryview, start: int, end: int, itemsizes: dict[int, int]) -> Tensor | None:
    """The TensorProto at start:end if it is a plain one: name, type, dims and raw bytes."""
    fields: dict[int, tuple[int, int]] = {}  # number -> (value, end), for single fields
    dims: list[int] = []
    for number, wire, _, value, field_end in _fields(data, start, end):
        if number == _DIMS and wire == _VARINT:
            dims.append(value)
        elif number == _DIMS and wire == _LEN:  # packed
            while value < field_end:
                dim, value = _read_varint(data, value)
                dims.append(dim)
        elif number not in _PLAIN_TENSOR or number in fields \
                or wire != (_VARINT if number == _DATA_TYPE else _LEN):
            return None
        else:
            fields[number] = (value, field_end)
    if not {_DATA_TYPE, _NAME, _RAW_DATA} <= set(fields):
        return None
    data_type = fields[_DATA_TYPE][0]
    (name_start, name_end), (raw_start, raw_end) = fields[_NAME], fields[_RAW_DATA]
    count = 1
    for dim in dims:
        count *= dim
    if data_type not in itemsizes or count * itemsizes[data_type] != raw_end - raw_start:
        return None
    return Tensor(bytes(data[name_start:name_end]).decode(), data_type, tuple(dims), raw_start,
                  raw_end - raw_start)


def _placeholder(data: memoryview, start: int, end: int, tensor: Tensor, location: str) -> bytes:
    """The TensorProto without its raw bytes, saying where they are in the file."""
    out = bytearray()
    for number, _, field_start, _, field_end in _fields(data, start, end):
        if number != _RAW_DATA:
            out += data[field_start:field_end]
    out += _varint(_DATA_LOCATION << 3 | _VARINT) + _varint(_EXTERNAL)
    for key, value in (("location", location), ("offset", str(tensor.offset)),
                       ("length", str(tensor.size))):
        entry = _len_field(1, key.encode()) + _len_field(2, value.encode())
        out += _len_field(_EXTERNAL_DATA, entry)  # StringStringEntryProto
    return bytes(out)


def _fields(data: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, field start, value, field end) of each field in start:end.

    The value is the number itself for a varint, where the payload starts for a
    length-delimited field, and 0 for a fixed-size one.
    """
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, value = _read_varint(data, pos)
            pos = value + size
        elif wire in (_I64, _I32):
            value, pos = 0, pos + (8 if wire == _I64 else 4)
        else:
            raise ValueError(f"wire type {wire}")
        if pos > end:
            raise ValueError("field runs past its message")
        yield number, wire, field_start, value, pos


def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload

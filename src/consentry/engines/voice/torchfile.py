"""Read the tensors of a PyTorch checkpoint (``.pt``) without PyTorch.

A checkpoint is untrusted input: ``torch.load`` runs a pickle, and a pickle
can call any importable function (``os.system`` included). This reader runs
the pickle through an unpickler that knows only the handful of names a plain
state dict needs and refuses every other one, so a hostile file ends in
:class:`CheckpointError`, never in code execution.

Formats
-------
Two on-disk layouts are read:

- **legacy** (PyTorch < 1.6, and what Resemblyzer ships): five pickles one
  after another -- a magic number, the protocol version (1001), system
  information, the object itself, and the list of storage keys in the order
  their data follow -- then, for each storage, its element count as a
  little-endian int64 followed by the raw elements.
- **zip** (PyTorch >= 1.6): a zip archive (members stored, not compressed)
  holding ``<prefix>/data.pkl`` (the object) and ``<prefix>/data/<key>``
  (the raw elements of each storage). Members are read by name from the
  archive, never extracted to disk; names that are absolute, contain ``..``
  or a backslash are refused, and so are members larger than
  ``max_bytes`` or compressed members that would expand past it.

In both, the object pickle refers to storages by *persistent id*, a tuple
``("storage", storage_type, key, location, numel[, view])``, and builds
tensors with ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks)``. Here storages become 1-D NumPy arrays and
tensors become NumPy arrays (copied, C-contiguous), after checking that every
element they index lies inside their storage.

Names the unpickler accepts (everything else is refused):
``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``,
``torch._utils._rebuild_tensor``, ``torch._utils._rebuild_parameter`` and the
typed storage classes ``torch.{Float,Double,Half,BFloat16,Long,Int,Short,
Char,Byte,Bool}Storage``.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consentry.domain.errors import InputError

__all__ = ["CheckpointError", "load_state"]

#: Magic number that opens a legacy checkpoint.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: The only legacy protocol version this reader knows.
LEGACY_PROTOCOL = 1001
#: Default limit on a checkpoint's size and on any one storage (bytes).
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: Limit on the size of the object pickle itself (bytes).
MAX_PICKLE_BYTES = 16 * 1024 * 1024

_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class CheckpointError(InputError):
    """A checkpoint file is malformed, too large or asks for a forbidden name."""

    def __init__(self, source: str | os.PathLike, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a ``torch.<X>Storage`` class: just its element dtype."""

    name: str
    dtype: np.dtype


_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


@dataclass
class _Storage:
    """A storage that the object pickle named; its data come later (legacy)."""

    storage_type: _StorageType
    key: str
    numel: int
    data: np.ndarray | None = None


@dataclass
class _StorageView:
    """A legacy view into another storage: ``numel`` elements from ``offset``."""

    base: _Storage
    offset: int
    numel: int


@dataclass
class _PendingTensor:
    """A tensor whose storage data are not read yet."""

    storage: _Storage | _StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _as_int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(v) is int for v in value):
        raise pickle.UnpicklingError(f"tensor {what} is not a tuple of integers")
    if len(value) > 16:
        raise pickle.UnpicklingError(f"tensor has {len(value)} dimensions")
    return value


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> _PendingTensor:
    """Stand-in for ``torch._utils._rebuild_tensor[_v2]``."""
    if not isinstance(storage, (_Storage, _StorageView)):
        raise pickle.UnpicklingError("tensor is not built on a storage")
    if type(storage_offset) is not int or storage_offset < 0:
        raise pickle.UnpicklingError("tensor storage offset is not a non-negative integer")
    size = _as_int_tuple(size, "size")
    stride = _as_int_tuple(stride, "stride")
    if len(size) != len(stride) or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("tensor size and stride do not fit together")
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, *_ignored) -> _PendingTensor:
    """Stand-in for ``torch._utils._rebuild_parameter``: the tensor itself."""
    if not isinstance(data, _PendingTensor):
        raise pickle.UnpicklingError("parameter does not wrap a tensor")
    return data


def _ordered_dict(*args) -> collections.OrderedDict:
    """Stand-in for ``collections.OrderedDict``: only the empty call is allowed."""
    if args:
        raise pickle.UnpicklingError("OrderedDict called with arguments")
    return collections.OrderedDict()


_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, np.dtype(code)) for name, code in _STORAGE_DTYPES.items()},
    ("torch", "BFloat16Storage"): _StorageType("BFloat16Storage", np.dtype("<u2")),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`_ALLOWED_GLOBALS`."""

    def __init__(self, file: io.BytesIO, *, max_numel: int, allow_persistent: bool) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}
        self._max_numel = max_numel
        self._allow_persistent = allow_persistent

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden name {module}.{name}") from None

    def persistent_load(self, pid: object) -> _Storage | _StorageView:
        if not self._allow_persistent:
            raise pickle.UnpicklingError("unexpected persistent id")
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise pickle.UnpicklingError("persistent id is not a storage reference")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("storage of an unknown type")
        if not isinstance(key, str) or not _STORAGE_KEY.match(key):
            raise pickle.UnpicklingError("storage key is not a plain name")
        if type(numel) is not int or not 0 <= numel <= self._max_numel:
            raise pickle.UnpicklingError(f"storage {key} has an implausible size")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(storage_type, key, numel)
        elif storage.storage_type != storage_type or storage.numel != numel:
            raise pickle.UnpicklingError(f"storage {key} is declared twice, differently")
        if view is None:
            return storage
        if not isinstance(view, tuple) or len(view) != 3:
            raise pickle.UnpicklingError("storage view is malformed")
        _view_key, offset, view_numel = view
        if type(offset) is not int or type(view_numel) is not int:
            raise pickle.UnpicklingError("storage view is malformed")
        if offset < 0 or view_numel < 0 or offset + view_numel > numel:
            raise pickle.UnpicklingError("storage view lies outside its storage")
        return _StorageView(storage, offset, view_numel)


def _materialise(value: object, label: str) -> object:
    """Replace every :class:`_PendingTensor` in ``value`` by a NumPy array."""
    if isinstance(value, _PendingTensor):
        return _tensor_to_array(value, label)
    if isinstance(value, dict):
        out = collections.OrderedDict() if isinstance(value, collections.OrderedDict) else {}
        for key, item in value.items():
            out[key] = _materialise(item, label)
        return out
    if isinstance(value, list):
        return [_materialise(item, label) for item in value]
    if isinstance(value, tuple):
        return tuple(_materialise(item, label) for item in value)
    return value


def _tensor_to_array(tensor: _PendingTensor, label: str) -> np.ndarray:
    storage = tensor.storage
    base_offset = 0
    if isinstance(storage, _StorageView):
        base_offset, limit, storage = storage.offset, storage.numel, storage.base
    else:
        limit = storage.numel
    if storage.data is None:
        raise CheckpointError(label, f"storage {storage.key} has no data")
    if any(n == 0 for n in tensor.size):
        return np.zeros(tensor.size, dtype=storage.data.dtype)
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride))
    if last >= limit:
        raise CheckpointError(label, f"a tensor indexes past the end of storage {storage.key}")
    flat = storage.data[base_offset:base_offset + limit]
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset:],
        shape=tensor.size,
        strides=tuple(s * item for s in tensor.stride),
        writeable=False,
    )
    array = np.array(view, copy=True, order="C")
    if storage.storage_type.name == "BFloat16Storage":
        array = _bfloat16_to_float32(array)
    return array


def _check_size(label: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise CheckpointError(label, f"is {size} bytes, more than the limit of {max_bytes}; not a speaker model")


def load_state(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict:
    """Read a PyTorch checkpoint into plain Python objects and NumPy arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.pt`` file (legacy or zip layout).
    max_bytes : int
        Refuse a file, or a zip member, larger than this (bytes).

    Returns
    -------
    dict
        The checkpoint's top-level object, with every tensor replaced by a
        C-contiguous NumPy array of the storage's dtype (float32 for
        ``FloatStorage``; bfloat16 widened to float32).

    Raises
    ------
    CheckpointError
        The file is missing, too large, malformed, or its pickle names
        anything but the few globals listed in this module's docstring.
    """
    label = str(path)
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise CheckpointError(label, f"cannot be read ({exc.strerror or exc}); check the path") from None
    _check_size(label, size, max_bytes)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(0)
            if head.startswith(b"PK"):
                state = _load_zip(handle, label, max_bytes)
            else:
                state = _load_legacy(handle.read(), label, max_bytes)
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, zipfile.BadZipFile, OverflowError, MemoryError,
            RecursionError) as exc:
        raise CheckpointError(label, f"is not a readable PyTorch checkpoint ({exc})") from None
    except OSError as exc:
        raise CheckpointError(label, f"cannot be read ({exc.strerror or exc})") from None
    return state


def _load_legacy(blob: bytes, label: str, max_bytes: int) -> object:
    stream = io.BytesIO(blob)
    header = _RestrictedUnpickler(stream, max_numel=0, allow_persistent=False)
    if header.load() != LEGACY_MAGIC:
        raise CheckpointError(label, "is not a PyTorch checkpoint (no magic number)")
    if header.load() != LEGACY_PROTOCOL:
        raise CheckpointError(label, "uses a PyTorch serialisation protocol this reader does not know")
    sys_info = header.load()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError(label, "was written on a big-endian machine; not supported")
    objects = _RestrictedUnpickler(stream, max_numel=max_bytes, allow_persistent=True)
    start = stream.tell()
    state = objects.load()
    if stream.tell() - start > MAX_PICKLE_BYTES:
        raise CheckpointError(label, "has an object pickle larger than 16 MiB; not a speaker model")
    keys = _RestrictedUnpickler(stream, max_numel=0, allow_persistent=False).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError(label, "has a malformed storage list")
    if set(keys) != set(objects.storages) or len(keys) != len(set(keys)):
        raise CheckpointError(label, "lists storages that its object does not use, or misses some")
    for key in keys:
        storage = objects.storages[key]
        (numel,) = struct.unpack("<q", _read_exact(stream, 8, label))
        if numel != storage.numel:
            raise CheckpointError(label, f"storage {key} holds {numel} elements, {storage.numel} declared")
        nbytes = numel * storage.storage_type.dtype.itemsize
        _check_size(label, nbytes, max_bytes)
        raw = _read_exact(stream, nbytes, label)
        storage.data = np.frombuffer(raw, dtype=storage.storage_type.dtype)
    return _materialise(state, label)


def _read_exact(stream: io.BytesIO, n: int, label: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CheckpointError(label, "ends before its tensor data do; the file is truncated")
    return data


def _safe_member_name(name: str) -> bool:
    parts = name.split("/")
    return not (name.startswith("/") or "\\" in name or ".." in parts or "" in parts[:-1] or ":" in name)


def _load_zip(handle, label: str, max_bytes: int) -> object:
    with zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        if len(infos) > 100_000:
            raise CheckpointError(label, "has too many zip members")
        by_name: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if not _safe_member_name(info.filename):
                raise CheckpointError(label, f"has an unsafe zip member name {info.filename!r}")
            _check_size(f"{label}:{info.filename}", info.file_size, max_bytes)
            total += info.file_size
            by_name[info.filename] = info
        _check_size(label, total, max_bytes)
        pickles = [name for name in by_name if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(label, "is a zip file but not a PyTorch checkpoint (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        pickle_info = by_name[pickles[0]]
        if pickle_info.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(label, "has an object pickle larger than 16 MiB; not a speaker model")
        objects = _RestrictedUnpickler(
            io.BytesIO(_read_member(archive, pickle_info, label)), max_numel=max_bytes, allow_persistent=True
        )
        state = objects.load()
        for key, storage in objects.storages.items():
            info = by_name.get(f"{prefix}data/{key}")
            if info is None:
                raise CheckpointError(label, f"has no data for storage {key}")
            nbytes = storage.numel * storage.storage_type.dtype.itemsize
            if info.file_size != nbytes:
                raise CheckpointError(label, f"storage {key} is {info.file_size} bytes, {nbytes} declared")
            storage.data = np.frombuffer(_read_member(archive, info, label), dtype=storage.storage_type.dtype)
    return _materialise(state, label)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    """Read one member, never more than its declared size (no zip bomb)."""
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise CheckpointError(label, f"zip member {info.filename} does not match its declared size")
    return data

"""WeightTensor: an immutable tensor with a name and a little metadata.

A ``WeightTensor`` owns a private, read-only, canonical copy of the array it was given, so a
live ``param.detach().numpy()`` that an optimizer keeps mutating cannot change what was staged.

Example:
    >>> import numpy as np
    >>> w = WeightTensor(np.ones((2, 3), np.float32),
    ...                  WeightMetadata(name="fc.weight", shape=(2, 3), dtype=np.float32))
    >>> w.shape, w.dtype, w.nbytes
    ((2, 3), dtype('float32'), 24)
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from coral.core.dtypes import canonical_array, dtype_from_name, dtype_name
from coral.core.object_id import object_id
from coral.errors import InvalidWeightError, WeightTypeError


@dataclass(frozen=True)
class WeightMetadata:
    """What Coral records about a weight besides its values.

    Args:
        name: the weight's name in its model (``"encoder.layer1.weight"``).
        shape: the tensor shape.
        dtype: anything ``np.dtype`` accepts, e.g. ``np.float32`` or ``ml_dtypes.bfloat16``.
        layer_type: the module class it belongs to (``"Linear"``), if known.
        model_name: the model it belongs to, if known.
        extra: free-form JSON-serialisable annotations.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    layer_type: str | None = None
    model_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise WeightTypeError(f"weight name must be a string, got {type(self.name).__name__}")
        raw_shape: Any = self.shape  # the annotation is what we produce, not what we accept
        try:
            if isinstance(raw_shape, (str, bytes)):
                raise TypeError
            shape = tuple(operator.index(d) for d in raw_shape)
        except TypeError:
            raise WeightTypeError(f"shape must be a sequence of ints, got {self.shape!r}") from None
        if any(d < 0 for d in shape):
            raise InvalidWeightError(f"shape {shape} of {self.name!r} has a negative dimension")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", dtype_from_name(dtype_name(self.dtype)))
        if not isinstance(self.extra, Mapping):
            raise WeightTypeError("extra must be a dict of JSON-serialisable values")
        try:  # it is stored in commits as JSON: refuse now what could not be written later
            json.dumps(self.extra, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise WeightTypeError(
                f"extra of {self.name!r} must hold JSON values (str, int, float, bool, None, "
                f"lists, dicts; convert NumPy scalars with .item()): {err}"
            ) from None
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dtype by canonical name)."""
        out: dict[str, Any] = {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype_name,
        }
        if self.layer_type is not None:
            out["layer_type"] = self.layer_type
        if self.model_name is not None:
            out["model_name"] = self.model_name
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightMetadata:
        """Parse :meth:`to_dict` output. Values are type-checked, but cheaply: a commit of a
        large model holds thousands of these and every history walk reads them."""
        name, shape, layer_type = data["name"], data["shape"], data.get("layer_type")
        model_name, extra = data.get("model_name"), data.get("extra", {})
        if (
            not isinstance(name, str)
            or not isinstance(shape, list)
            or not all(type(d) is int and d >= 0 for d in shape)
            or not (layer_type is None or isinstance(layer_type, str))
            or not (model_name is None or isinstance(model_name, str))
            or not isinstance(extra, dict)
        ):
            raise InvalidWeightError(f"malformed weight metadata: {dict(data)!r:.200}")
        self = object.__new__(cls)
        for field_name, value in (
            ("name", name),
            ("shape", tuple(shape)),
            ("dtype", dtype_from_name(data["dtype"])),
            ("layer_type", layer_type),
            ("model_name", model_name),
            ("extra", dict(extra)),
        ):
            object.__setattr__(self, field_name, value)
        return self


class WeightTensor:
    """An immutable array plus :class:`WeightMetadata`.

    Args:
        data: a NumPy array of a supported dtype (any memory order or byte order).
        metadata: optional; when given, its shape and dtype must match ``data``.

    Raises:
        WeightTypeError: ``data`` is not an array.
        InvalidWeightError: unsupported dtype, or ``metadata`` disagrees with ``data``.
    """

    __slots__ = ("_data", "_metadata", "_object_id")

    def __init__(self, data: npt.ArrayLike, metadata: WeightMetadata | None = None) -> None:
        refuse_masked(data, metadata.name if isinstance(metadata, WeightMetadata) else "")
        arr = canonical_array(data, copy=True)
        arr.flags.writeable = False
        self._data = arr
        self._metadata = _checked_metadata(arr, metadata)
        self._object_id: str | None = None

    @classmethod
    def _trusted(
        cls, arr: np.ndarray, metadata: WeightMetadata, object_id_: str | None = None
    ) -> WeightTensor:
        """Wrap an array Coral itself produced (canonical, private), skipping the copy."""
        self = cls.__new__(cls)
        arr.flags.writeable = False
        self._data = arr
        self._metadata = metadata
        self._object_id = object_id_
        return self

    @property
    def data(self) -> np.ndarray:
        """The values, read-only. Use :meth:`to_numpy` for a writable copy."""
        return self._data

    @property
    def metadata(self) -> WeightMetadata:
        return self._metadata

    @property
    def name(self) -> str:
        return self._metadata.name

    @property
    def shape(self) -> tuple[int, ...]:
        return self._metadata.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._metadata.dtype

    @property
    def dtype_name(self) -> str:
        return self._metadata.dtype_name

    @property
    def size(self) -> int:
        return int(self._data.size)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    @property
    def content_hash(self) -> str:
        """The object ID: xxh3-128 over dtype, shape and bytes (cached)."""
        if self._object_id is None:
            self._object_id = object_id(self._data, self.dtype_name)
        return self._object_id

    def compute_hash(self) -> str:
        """Same as :attr:`content_hash` (the name the reference API uses)."""
        return self.content_hash

    def to_numpy(self) -> np.ndarray:
        """A writable copy of the values."""
        copy: np.ndarray = self._data.copy()
        return copy

    def with_metadata(self, **changes: Any) -> WeightTensor:
        """A WeightTensor with the same values (shared, they are immutable) and new metadata."""
        return WeightTensor._trusted(
            self._data, replace(self._metadata, **changes), self._object_id
        )

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            converted: np.ndarray = self._data.astype(dtype)
            return converted
        return self.to_numpy() if copy else self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WeightTensor):
            return NotImplemented
        return self.metadata == other.metadata and self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash((self.name, self.content_hash))

    def __repr__(self) -> str:
        return (
            f"WeightTensor(name={self.name!r}, shape={self.shape}, dtype={self.dtype_name}, "
            f"nbytes={self.nbytes})"
        )


def refuse_masked(data: object, name: str = "") -> None:
    """Refuse a NumPy masked array: it is an ``ndarray``, so it would be stored as its data
    alone and read back without its mask. Refused even with nothing masked, so whether a mask
    is silently dropped never depends on the values.

    Raises:
        InvalidWeightError: ``data`` is a ``np.ma.MaskedArray``.
    """
    if isinstance(data, np.ma.MaskedArray):
        label = f"weight {name!r}" if name else "the data"
        raise InvalidWeightError(
            f"{label} is a NumPy masked array, and Coral stores values, not masks; stage "
            "a.filled(fill_value) (and the mask as its own bool weight, np.ma.getmaskarray(a)), "
            "or np.asarray(a) if the mask does not matter"
        )


def _checked_metadata(arr: np.ndarray, metadata: WeightMetadata | None) -> WeightMetadata:
    if metadata is None:
        return WeightMetadata(name="", shape=arr.shape, dtype=arr.dtype)
    if not isinstance(metadata, WeightMetadata):
        raise WeightTypeError(f"metadata must be a WeightMetadata, got {type(metadata).__name__}")
    label = f" of {metadata.name!r}" if metadata.name else ""
    if metadata.shape != arr.shape:
        raise InvalidWeightError(
            f"data{label} has shape {arr.shape} but metadata declares {metadata.shape}; "
            "pass matching data or fix WeightMetadata.shape"
        )
    if metadata.dtype != arr.dtype:
        raise InvalidWeightError(
            f"data{label} has dtype {dtype_name(arr.dtype)} but metadata declares "
            f"{metadata.dtype_name}; convert with data.astype(...) or fix WeightMetadata.dtype"
        )
    return metadata

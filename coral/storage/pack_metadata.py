"""Reading a pack's own HDF5 metadata, in a child process.

libhdf5 parses a file's structure in C, and on a damaged file it can loop forever or crash the
process (found by the mutation tests: a few flipped bits in an attribute header hang
``attrs[...]``). Coral's reads never need it (payloads are read at offsets recorded in the
pack's JSON index); only rebuilding a lost index and fsck's cross-check do. Those run this
file as a script in a child process that the caller times out and kills; the caller then
checks what comes back like any untrusted metadata. It imports nothing from Coral.

Protocol: one pack path per line on stdin; one JSON line per pack on stdout, either
``{"entries": {oid: {...}}}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import h5py
import numpy as np

GROUP = "objects"
PACK_FORMAT = 1


def read_entries(path: str) -> dict[str, dict[str, Any]]:
    with h5py.File(path, "r", locking=False) as f:
        if int(f.attrs.get("coral_pack_format", -1)) != PACK_FORMAT:
            raise ValueError("not a Coral pack (missing coral_pack_format attribute)")
        if not isinstance(f.get(GROUP, getlink=True), h5py.HardLink):
            raise ValueError(f"/{GROUP} is a link, not a group")
        group = f[GROUP]
        return {name: _entry(group, name) for name in list(group.keys())}


def _entry(group: h5py.Group, name: str) -> dict[str, Any]:
    """One object's attributes, refused unless its dataset is what Coral writes: a hard link
    to a 1-D uint8 dataset stored contiguously in this file, unfiltered. External links,
    external or virtual storage and filters would make HDF5 open other files or run plugins."""
    if not isinstance(group.get(name, getlink=True), h5py.HardLink):
        raise ValueError(f"object {name[:80]} is a link to elsewhere")
    ds = group[name]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"object {name[:80]} is not a dataset")
    plist = ds.id.get_create_plist()
    if (
        plist.get_layout() != h5py.h5d.CONTIGUOUS
        or plist.get_nfilters()
        or plist.get_external_count()
        or ds.dtype != np.uint8
        or ds.ndim != 1
    ):
        raise ValueError(f"object {name[:80]} is not stored the way Coral stores objects")
    attrs = ds.attrs
    offset = ds.id.get_offset()
    return {
        # The dtype comes from our own attribute, never from HDF5's type (bfloat16 is opaque).
        "dtype": str(attrs["dtype"]),
        "shape": [int(d) for d in np.asarray(attrs["shape"]).reshape(-1)],
        "codec": str(attrs["codec"]),
        "params": str(attrs["params"]),
        "raw_nbytes": int(attrs["raw_nbytes"]),
        "stored_nbytes": int(attrs["stored_nbytes"]),
        "bases": str(attrs["bases"]),
        "depth": int(attrs["depth"]),
        "offset": -1 if offset is None else int(offset),
        "dataset_bytes": int(ds.shape[0]),
    }


def main() -> None:
    for line in sys.stdin:
        path = line.rstrip("\n")
        try:
            answer: dict[str, Any] = {"entries": read_entries(path)}
        except Exception as err:  # whatever HDF5 raises on a damaged file
            answer = {"error": f"{type(err).__name__}: {err}"[:2000]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

"""A read-on-access view of one commit's weights, for models too big to load at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.records.commit import Commit


class LazyWeights(Mapping[str, WeightTensor]):
    """``Mapping[name, WeightTensor]`` that reads a tensor each time it is looked up.

    Nothing is cached, so memory stays at what the caller keeps. Shapes and dtypes are known
    without reading anything: ``lazy.metadata("fc.weight").shape``.
    """

    def __init__(
        self,
        commit: Commit,
        load: Callable[[str, Commit], WeightTensor],
        names: list[str] | None = None,
    ) -> None:
        self.commit = commit
        self._load = load
        self._names = sorted(commit.weight_hashes) if names is None else names
        self._known = set(self._names)

    def __getitem__(self, name: str) -> WeightTensor:
        return self._load(name, self.commit)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._known

    def metadata(self, name: str) -> WeightMetadata:
        known = self.commit.weight_metadata.get(name)
        # Unknown names go through the loader for its "did you mean" error.
        return known if known is not None else self[name].metadata

    def __repr__(self) -> str:
        return f"LazyWeights(commit={self.commit.short_hash}, {len(self)} weights)"

"""Three-way merges of weights: what each tensor becomes, decided before anything is written.

Against the merge base (the newest best common ancestor in the commit graph), per weight:

* the same object on both sides: that object;
* changed on one side only (including added or removed there): that side;
* changed on both sides: a *conflict*, resolved by the strategy (or a per-name override).

:func:`plan_tensors` makes these decisions and checks that every conflict can be resolved the way
it is asked to (same shape and dtype on both sides, a base version for task-vector methods).
Only float weights are ever combined: integer, bool and complex weights, model files and
optimizer state are taken whole from one side (:class:`NonFloat`), whatever their shapes; an
optimizer state changed on both sides comes whole from one side, never as a mix of two runs'
entries. A conflict whose computed result would be exactly one side (``merge_alpha=1``...)
takes that side's stored object. The :class:`MergePlan` is what ``dry_run`` returns; a real
merge computes the planned tensors one at a time (:func:`merged_tensors`) and commits them
with both parents.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

import numpy as np

from coral.core.weight_tensor import WeightMetadata
from coral.errors import InvalidValueError, MergeConflictError
from coral.merge.methods import METHODS, Side, can_combine, combine, validate_params
from coral.records.assets import OPTIMIZER_PREFIX, is_file_name, is_reserved_name
from coral.records.commit import Commit

MergeKind = Literal["up-to-date", "fast-forward", "merge"]
"""What a merge does: nothing, move HEAD forward, or make a merge commit."""

TensorOutcome = Literal["ours", "theirs", "merged", "deleted", "unresolved"]
"""What one weight becomes: a side's object, a computed one, nothing, or (the merge stops)
no answer."""


class MergeStrategy(Enum):
    """How a weight changed on both sides is resolved.

    OURS, THEIRS, FAIL, AVERAGE and WEIGHTED take one side or blend the two; the
    model-merging ones (task arithmetic, TIES, DARE) work on the changes each side made since
    the merge base.
    """

    OURS = "ours"
    THEIRS = "theirs"
    FAIL = "fail"
    AVERAGE = "average"
    WEIGHTED = "weighted"
    TASK_ARITHMETIC = "task_arithmetic"
    TIES = "ties"
    DARE = "dare"
    SLERP = "slerp"

    @classmethod
    def parse(cls, value: MergeStrategy | str) -> MergeStrategy:
        """A strategy from itself, its value or its name (any case; ``-`` for ``_``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            for strategy in cls:
                if key == strategy.value:
                    return strategy
        choices = ", ".join(s.value for s in cls)
        raise InvalidValueError(f"unknown merge strategy {value!r}; choose one of: {choices}")

    @property
    def computes(self) -> bool:
        """Whether this strategy computes a new tensor (rather than taking a side)."""
        return self.value in METHODS


class NonFloat(Enum):
    """What happens under a computing strategy to a conflicting entry that is never combined:
    an integer, bool or complex weight (a step counter or a mask has no meaningful mean), a
    model file, or optimizer state (two runs' Adam moments have no meaningful mix either)."""

    OURS = "ours"
    THEIRS = "theirs"
    FAIL = "fail"


@dataclass(frozen=True)
class Resolution:
    """A strategy with its checked parameters."""

    strategy: MergeStrategy
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, strategy: MergeStrategy | str, params: Mapping[str, Any]) -> Resolution:
        chosen = MergeStrategy.parse(strategy)
        if chosen.computes:
            return cls(chosen, validate_params(METHODS[chosen.value], params))
        if params:
            raise InvalidValueError(
                f"strategy {chosen.value!r} takes no parameters, got {', '.join(sorted(params))}"
            )
        return cls(chosen, {})

    def to_json(self) -> dict[str, Any]:
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return {"strategy": self.strategy.value, **({"params": params} if params else {})}


class StrategyChooser:
    """The resolution for each weight: the first override whose glob matches its name, else
    the merge's strategy.

    Args:
        default: the merge's strategy.
        overrides: glob -> strategy, or ``{"strategy": ..., **params}``; e.g.
            ``{"*.bias": "average", "embeddings.*": {"strategy": "weighted", "merge_alpha": 0.9}}``.
    """

    def __init__(
        self,
        default: Resolution,
        overrides: Mapping[str, MergeStrategy | str | Mapping[str, Any]] | None = None,
    ) -> None:
        self.default = default
        self.overrides: list[tuple[str, Resolution]] = []
        if overrides is not None and not isinstance(overrides, Mapping):
            raise InvalidValueError(
                "overrides must be a mapping of glob -> strategy, e.g. {'*.bias': 'average'}, "
                f"got {type(overrides).__name__} {overrides!r}"
            )
        for pattern, spec in (overrides or {}).items():
            if not isinstance(pattern, str) or not pattern:
                raise InvalidValueError(f"override patterns must be non-empty globs: {pattern!r}")
            if isinstance(spec, Mapping):
                params = dict(spec)
                if "strategy" not in params:
                    raise InvalidValueError(f"override {pattern!r} needs a 'strategy' entry")
                strategy = params.pop("strategy")
                if isinstance(params.get("params"), Mapping):  # the recorded form
                    params.update(params.pop("params"))
                self.overrides.append((pattern, Resolution.build(strategy, params)))
            else:
                self.overrides.append((pattern, Resolution.build(spec, {})))

    def for_name(self, name: str) -> Resolution:
        for pattern, resolution in self.overrides:
            if fnmatch.fnmatchcase(name, pattern):
                return resolution
        return self.default

    def to_json(self) -> dict[str, Any]:
        return {pattern: resolution.to_json() for pattern, resolution in self.overrides}


@dataclass(frozen=True)
class TensorMerge:
    """What one weight becomes.

    Attributes:
        name: the weight.
        outcome: ``"ours"``, ``"theirs"``, ``"merged"`` (computed), ``"deleted"`` or
            ``"unresolved"`` (``error`` says why).
        reason: why, in words (``"changed on their side"``, ``"changed on both sides"``...).
        conflict: changed on both sides.
        strategy: for a conflict, the strategy that resolved it.
        error: for a conflict that cannot be resolved as asked, why (the merge stops).
    """

    name: str
    outcome: TensorOutcome
    reason: str
    conflict: bool = False
    strategy: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MergePlan:
    """The decisions of a merge, made before anything is written (what ``dry_run`` returns).

    Attributes:
        kind: ``"merge"`` (a merge commit), ``"fast-forward"`` or ``"up-to-date"``.
        source: the ref being merged, as given.
        ours, theirs: the commit hashes (``ours`` None on an unborn branch).
        bases: the best common ancestors (several after criss-cross merges, when the base is
            their virtual merge; none for fast-forwards, up-to-date and unrelated histories).
        resolution: the merge's strategy and parameters; ``overrides`` the per-name ones.
        tensors: one entry per weight of the result or removed by it, sorted by name (empty
            unless ``kind == "merge"``).
    """

    kind: MergeKind
    source: str
    ours: str | None
    theirs: str
    bases: tuple[str, ...]
    resolution: Resolution
    overrides: dict[str, Any] = field(default_factory=dict)
    non_float: str = NonFloat.OURS.value
    tensors: tuple[TensorMerge, ...] = ()

    @property
    def base(self) -> str | None:
        """The merge base (the newest one when there are several)."""
        return self.bases[0] if self.bases else None

    @property
    def conflicts(self) -> list[str]:
        """Names changed on both sides."""
        return [t.name for t in self.tensors if t.conflict]

    @property
    def unresolved(self) -> dict[str, str]:
        """Conflicts that cannot be resolved as asked: name -> why."""
        return {t.name: t.error for t in self.tensors if t.error is not None}

    @property
    def ok(self) -> bool:
        return not self.unresolved

    def counts(self) -> dict[TensorOutcome, int]:
        """How many weights each outcome got (``ours``, ``theirs``, ``merged``, ``deleted``)."""
        return dict(Counter(t.outcome for t in self.tensors if t.error is None))

    def record(self) -> dict[str, Any]:
        """What a merge commit keeps in ``metadata.extra["merge"]``: enough to re-run it."""
        return {
            "source": self.source,
            "source_commit": self.theirs,
            "base": self.base,
            **({"bases": list(self.bases)} if len(self.bases) > 1 else {}),
            **self.resolution.to_json(),
            **({"overrides": self.overrides} if self.overrides else {}),
            "non_float": self.non_float,
            "resolved": {t.name: t.strategy for t in self.tensors if t.conflict},
        }

    def __str__(self) -> str:
        if self.kind == "up-to-date":
            return f"Already up to date with {self.source}."
        if self.kind == "fast-forward":
            start = self.ours[:8] if self.ours else "(no commits)"
            return f"Fast-forward {start}..{self.theirs[:8]} ({self.source})"
        strategy = self.resolution.strategy.value
        lines = [
            f"Merge {self.source} ({self.theirs[:8]}) into {str(self.ours)[:8]}, "
            f"base {str(self.base)[:8]}, strategy {strategy}: "
            + ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        ]
        for t in self.tensors:
            if t.conflict:
                how = f"CANNOT MERGE: {t.error}" if t.error else _how(t)
                lines.append(f"  conflict {t.name}: {how}")
        return "\n".join(lines)


def _how(t: TensorMerge) -> str:
    if t.outcome == "merged":
        return f"merged via {t.strategy}"
    return (
        str(t.strategy) if str(t.strategy).startswith(t.outcome) else f"{t.outcome} ({t.strategy})"
    )


@dataclass(frozen=True)
class WeightVersion:
    """One side's version of a weight: object ID and metadata (both None when absent)."""

    oid: str | None = None
    metadata: WeightMetadata | None = None


_ABSENT = WeightVersion()


def versions_of(commit: Commit) -> dict[str, WeightVersion]:
    return {
        name: WeightVersion(oid, commit.weight_metadata.get(name))
        for name, oid in commit.weight_hashes.items()
    }


def base_versions(
    bases: Sequence[str],
    commit_of: Callable[[str], Commit],
    merge_bases: Callable[[Sequence[str], Sequence[str]], list[str]],
) -> dict[str, WeightVersion]:
    """The weights of the merge base.

    With several best common ancestors (criss-cross merges), a virtual base is built the way
    git's recursive strategy does: the bases are merged three-way against their own merge base,
    recursively. A weight the bases changed differently keeps that deeper ancestor's version,
    which is a common ancestor of both sides, so nothing is taken as "unchanged" wrongly.
    ``merge_bases(left, right)`` gives the best common ancestors of two sets of commits.
    """
    merged = versions_of(commit_of(bases[0]))
    for i, other in enumerate(bases[1:], start=1):
        # The virtual commit built so far has bases[:i] as parents (as in git's recursive
        # strategy): its merge bases with the next one come from all of them.
        deeper = merge_bases(bases[:i], [other])
        ancestor = base_versions(deeper, commit_of, merge_bases) if deeper else {}
        merged = _merge_versions(merged, versions_of(commit_of(other)), ancestor)
    return merged


def _merge_versions(
    a: Mapping[str, WeightVersion],
    b: Mapping[str, WeightVersion],
    ancestor: Mapping[str, WeightVersion],
) -> dict[str, WeightVersion]:
    out = {}
    for name in set(a) | set(b):
        va, vb, v0 = a.get(name, _ABSENT), b.get(name, _ABSENT), ancestor.get(name, _ABSENT)
        if va.oid == vb.oid or vb.oid == v0.oid:
            chosen = va
        elif va.oid == v0.oid:
            chosen = vb
        else:
            chosen = v0
        if chosen.oid is not None:
            out[name] = chosen
    return out


def plan_tensors(
    ours: Commit,
    theirs: Commit,
    base: Mapping[str, WeightVersion],
    chooser: StrategyChooser,
    non_float: NonFloat,
) -> tuple[TensorMerge, ...]:
    """The three-way decision for every weight of either side."""
    mine, yours = versions_of(ours), versions_of(theirs)
    names = sorted(set(mine) | set(yours))
    optimizer = [name for name in names if name.startswith(OPTIMIZER_PREFIX)]
    whole = _optimizer_state_whole(optimizer, mine, yours, base, chooser, non_float)
    return tuple(
        whole.get(name)
        or _decide(
            name,
            mine.get(name, _ABSENT),
            yours.get(name, _ABSENT),
            base.get(name, _ABSENT),
            chooser,
            non_float,
        )
        for name in names
    )


def _optimizer_state_whole(
    names: Sequence[str],
    mine: Mapping[str, WeightVersion],
    yours: Mapping[str, WeightVersion],
    base: Mapping[str, WeightVersion],
    chooser: StrategyChooser,
    non_float: NonFloat,
) -> dict[str, TensorMerge]:
    """For an optimizer state changed on both sides, the decisions that take it whole from one
    side (empty otherwise: then the entry-by-entry rules already give one side's state).

    Its entries (moments, step counts, the param groups) only make sense together; taking
    each entry's newer version, even where only one side changed it, would assemble a state
    that no run had.
    """

    def changed(side: Mapping[str, WeightVersion]) -> bool:
        return any(side.get(n, _ABSENT).oid != base.get(n, _ABSENT).oid for n in names)

    differing = [n for n in names if mine.get(n, _ABSENT).oid != yours.get(n, _ABSENT).oid]
    if not differing or not (changed(mine) and changed(yours)):
        return {}
    reason = "optimizer state changed on both sides"
    choices = {n: _whole_side(chooser.for_name(n), non_float, "optimizer state") for n in differing}
    if len({side for side, _ in choices.values()}) > 1:
        why = "optimizer state is taken whole from one side, but overrides differ on which"
        choices = dict.fromkeys(differing, (None, why))
    out = {}
    for name, (side, how) in choices.items():
        if side is None:
            strategy = chooser.for_name(name).strategy.value
            out[name] = TensorMerge(name, "unresolved", reason, True, strategy, how)
        else:
            version = (mine if side == "ours" else yours).get(name, _ABSENT)
            out[name] = TensorMerge(name, _taken(side, version), reason, True, how)
    return out


def _decide(
    name: str,
    o: WeightVersion,
    t: WeightVersion,
    b: WeightVersion,
    chooser: StrategyChooser,
    non_float: NonFloat,
) -> TensorMerge:
    if o.oid == t.oid:
        return TensorMerge(name, "ours", "same on both sides")
    if t.oid == b.oid:
        return TensorMerge(name, _taken("ours", o), _one_side("our", o, b))
    if o.oid == b.oid:
        return TensorMerge(name, _taken("theirs", t), _one_side("their", t, b))
    return _resolve_conflict(name, o, t, b, chooser.for_name(name), non_float)


def _taken(side: Side, s: WeightVersion) -> TensorOutcome:
    return side if s.oid is not None else "deleted"


def _one_side(whose: str, s: WeightVersion, b: WeightVersion) -> str:
    if s.oid is None:
        return f"removed on {whose} side"
    return f"{'changed' if b.oid is not None else 'added'} on {whose} side"


def _resolve_conflict(
    name: str,
    o: WeightVersion,
    t: WeightVersion,
    b: WeightVersion,
    resolution: Resolution,
    non_float: NonFloat,
) -> TensorMerge:
    if o.oid is None or t.oid is None:
        reason = f"removed on {'our' if o.oid is None else 'their'} side, changed on the other"
    else:
        reason = "added on both sides" if b.oid is None else "changed on both sides"
    strategy = resolution.strategy

    def take(side: Side, how: str) -> TensorMerge:
        chosen = o if side == "ours" else t
        return TensorMerge(name, _taken(side, chosen), reason, True, how)

    def cannot(why: str) -> TensorMerge:
        return TensorMerge(name, "unresolved", reason, True, strategy.value, why)

    what = _never_combined(name, o.metadata, t.metadata)
    if not strategy.computes or what is not None:
        # Taking one side whole needs no equal shapes, nor the weight on both sides.
        side, how = _whole_side(resolution, non_float, what)
        return take(side, how) if side is not None else cannot(how)
    if o.metadata is None or t.metadata is None:
        return cannot(
            f"{reason}: {strategy.value} needs the weight on both sides; "
            "resolve it with an override of 'ours' or 'theirs'"
        )
    if (o.metadata.shape, o.metadata.dtype) != (t.metadata.shape, t.metadata.dtype):
        return cannot(
            f"shapes or dtypes differ (ours {_describe(o.metadata)}, theirs "
            f"{_describe(t.metadata)}), so they cannot be combined; use an override of "
            "'ours' or 'theirs'"
        )
    method = METHODS[strategy.value]
    if method.needs_base:
        if b.metadata is None:
            return cannot(
                f"added on both sides, so {strategy.value} has no base version to "
                "take changes from; use an override such as 'average'"
            )
        if (b.metadata.shape, b.metadata.dtype) != (o.metadata.shape, o.metadata.dtype):
            return cannot(
                f"the base version is {_describe(b.metadata)}, the sides "
                f"{_describe(o.metadata)}: {strategy.value} needs all three alike"
            )
    exact = method.exact_side(resolution.params)
    if exact is not None:  # the result is that side: reuse its object, bit for bit
        return take(exact, strategy.value)
    return TensorMerge(name, "merged", reason, True, strategy.value)


def _never_combined(name: str, *sides: WeightMetadata | None) -> str | None:
    """What a conflicting entry is, if it is taken whole from one side rather than combined."""
    if is_reserved_name(name):
        return "a model file" if is_file_name(name) else "optimizer state"
    for metadata in sides:
        if metadata is not None and not can_combine(metadata.dtype):
            return str(metadata.dtype)
    return None


def _whole_side(
    resolution: Resolution, non_float: NonFloat, what: str | None
) -> tuple[Side | None, str]:
    """The side a conflicting entry is taken whole from, and how that reads; the side is None
    (and the text says why) when the merge must stop. ``what`` the entry is (``"int64"``,
    ``"optimizer state"``...) matters under computing strategies, which follow ``non_float``."""
    strategy = resolution.strategy
    if strategy is MergeStrategy.OURS or strategy is MergeStrategy.THEIRS:
        return strategy.value, strategy.value
    if strategy is MergeStrategy.FAIL:
        return None, "changed on both sides and the strategy is 'fail'"
    if non_float is NonFloat.FAIL:
        return None, f"{what} is never averaged (non_float='fail')"
    return non_float.value, f"{non_float.value}, as {what} is not averaged"


def _describe(metadata: WeightMetadata) -> str:
    return f"{metadata.dtype}{list(metadata.shape)}"


def check_resolvable(plan: MergePlan) -> None:
    """Raise :class:`MergeConflictError` naming every conflict the plan cannot resolve."""
    unresolved = plan.unresolved
    if not unresolved:
        return
    names = sorted(unresolved)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    first = unresolved[names[0]]
    raise MergeConflictError(
        f"merge of {plan.source} stopped, nothing written: {len(names)} weight(s) cannot be "
        f"merged: {shown} ({names[0]}: {first}); see the error's .reasons, or preview with "
        "dry_run=True",
        unresolved,
    )


def merged_tensors(
    plan: MergePlan,
    ours: Commit,
    theirs: Commit,
    base: Mapping[str, WeightVersion],
    chooser: StrategyChooser,
    load: Callable[[str], np.ndarray],
) -> Iterator[tuple[str, np.ndarray, WeightMetadata]]:
    """Compute the planned ``merged`` tensors, one at a time (a few tensors in memory)."""
    for entry in plan.tensors:
        if entry.outcome != "merged":
            continue
        resolution = chooser.for_name(entry.name)
        method = METHODS[resolution.strategy.value]
        base_oid = base.get(entry.name, _ABSENT).oid
        array = combine(
            method,
            load(ours.weight_hashes[entry.name]),
            load(theirs.weight_hashes[entry.name]),
            load(base_oid) if method.needs_base and base_oid is not None else None,
            resolution.params,
            entry.name,
        )
        array.flags.writeable = False
        yield entry.name, array, ours.weight_metadata[entry.name]


def result_weights(
    plan: MergePlan, ours: Commit, theirs: Commit, merged: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, WeightMetadata]]:
    """The merge commit's ``weight_hashes`` and ``weight_metadata``, given the object IDs of
    the computed tensors."""
    hashes: dict[str, str] = {}
    metadata: dict[str, WeightMetadata] = {}
    for entry in plan.tensors:
        if entry.outcome == "deleted":
            continue
        if entry.outcome == "merged":
            hashes[entry.name] = merged[entry.name]
            metadata[entry.name] = ours.weight_metadata[entry.name]
            continue
        side = ours if entry.outcome == "ours" else theirs
        hashes[entry.name] = side.weight_hashes[entry.name]
        if entry.name in side.weight_metadata:
            metadata[entry.name] = side.weight_metadata[entry.name]
    return hashes, metadata

"""``repo.bisect``: the first commit where a model went bad, in log2(N) evaluations.

The candidates are the commits on a path from ``good`` to ``bad`` (first parents when
``good`` is on ``bad``'s first-parent line, as ``git bisect --first-parent``). Each candidate
is handed to the test lazily (its tensors are read when the test looks at them), and a test
may answer None to skip a commit it cannot judge (as ``git bisect skip``). When only skipped
commits are left between the last good one and the first known bad one, no commit is named:
any of them could be the first bad one, and the result lists them all, as git does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError
from coral.records.commit import Commit

Verdict = bool | None
Test = Callable[[Mapping[str, WeightTensor]], Verdict]


@dataclass(frozen=True)
class BisectStep:
    """One commit bisect evaluated and its verdict (good, bad or skipped)."""

    commit_hash: str
    message: str
    good: Verdict


@dataclass
class BisectResult:
    """The first bad commit, and every evaluation made to find it (in order).

    Attributes:
        first_bad: the first bad commit; None when skipped commits hide it.
        steps: every evaluation, in order.
        candidates: the commits strictly between ``good`` and ``bad``.
        undecided: when ``first_bad`` is None, the commits that could be the first bad one,
            in path order: the skipped ones after the last good commit, then the first known
            bad one. Empty otherwise.
    """

    first_bad: Commit | None
    steps: list[BisectStep] = field(default_factory=list)
    candidates: int = 0
    undecided: list[Commit] = field(default_factory=list)

    def __str__(self) -> str:
        evaluations = f"{len(self.steps)} evaluations for {self.candidates} candidates"
        if self.first_bad is None:
            lines = [
                f"There are only 'skip'ped commits left to test ({evaluations}).",
                "The first bad commit could be any of:",
                *(f"  {c.commit_hash} {_title(c.metadata.message)}" for c in self.undecided),
            ]
        else:
            lines = [
                f"{self.first_bad.commit_hash} is the first bad commit ({evaluations})",
                f"    {self.first_bad.metadata.message}",
            ]
        for step in self.steps:
            verdict = {True: "good", False: "bad", None: "skip"}[step.good]
            lines.append(f"  {step.commit_hash[:8]} {verdict:<4} {_title(step.message)}")
        return "\n".join(lines)


def _title(message: str) -> str:
    """A commit message's first line ("" for an empty message)."""
    return message.splitlines()[0] if message else ""


def threshold_test(
    metric: Callable[[Mapping[str, WeightTensor]], float], threshold: float, bad_if: str
) -> Test:
    """A test from a metric: bad when it is ``"above"`` or ``"below"`` the threshold."""
    if bad_if not in ("above", "below"):
        raise InvalidValueError(f"bad_if must be 'above' or 'below', got {bad_if!r}")

    def test(weights: Mapping[str, WeightTensor]) -> Verdict:
        value = float(metric(weights))
        return value <= threshold if bad_if == "above" else value >= threshold

    return test


def bisect_path(
    path: Sequence[Commit],
    evaluate: Callable[[Commit], Verdict],
    *,
    check_ends: bool,
) -> BisectResult:
    """``path[0]`` good, ``path[-1]`` bad; binary search for the first bad commit."""
    steps: list[BisectStep] = []

    def judge(commit: Commit) -> Verdict:
        verdict = evaluate(commit)
        steps.append(BisectStep(commit.commit_hash, commit.metadata.message, verdict))
        return verdict

    if check_ends:
        if judge(path[0]) is False:
            raise InvalidValueError(
                f"the 'good' commit {path[0].short_hash} tests bad: pick an older good commit"
            )
        if judge(path[-1]) is True:
            raise InvalidValueError(
                f"the 'bad' commit {path[-1].short_hash} tests good: nothing to bisect"
            )
    lo, hi = 0, len(path) - 1  # path[lo] is good, path[hi] is bad
    skipped: set[int] = set()
    while hi - lo > 1:
        mid = _pick(lo, hi, skipped)
        if mid is None:  # all of path[lo + 1 : hi] skipped: any of them, or hi, is first bad
            return BisectResult(None, steps, len(path) - 2, list(path[lo + 1 : hi + 1]))
        verdict = judge(path[mid])
        if verdict is None:
            skipped.add(mid)
        elif verdict:
            lo = mid
        else:
            hi = mid
    return BisectResult(path[hi], steps, len(path) - 2)


def _pick(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The untested index nearest the middle of (lo, hi)."""
    middle = (lo + hi) // 2
    for distance in range(hi - lo):
        for index in (middle - distance, middle + distance):
            if lo < index < hi and index not in skipped:
                return index
    return None

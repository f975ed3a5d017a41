"""Runs: lines of training with their parameters, metric curves and checkpoints, any number
at once in one repository (:class:`Run`, made by ``repo.start_run``; ``repo.runs()`` lists
them as :class:`RunInfo`)."""

from coral.runs.run import Run
from coral.runs.service import RunInfo, Runs

__all__ = ["Run", "RunInfo", "Runs"]

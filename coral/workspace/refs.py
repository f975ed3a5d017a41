"""``Refs``: branches and tags as a user creates and deletes them, with the checks that span
both (a name is a branch or a tag, never both; a branch no other ref reaches is deleted only
when forced). The records themselves live in :mod:`coral.records.branch` and
:mod:`coral.records.tags`."""

from __future__ import annotations

from collections.abc import Mapping

from coral.errors import InvalidValueError, UnmergedBranchError
from coral.history.service import History
from coral.records.branch import Branch, BranchManager
from coral.records.parts import RepositoryParts
from coral.records.tags import Version


class Refs:
    """Creating and deleting the branches and tags of one repository."""

    def __init__(self, parts: RepositoryParts, history: History, branches: BranchManager) -> None:
        self._parts = parts
        self._history = history
        self._branches = branches

    def create_branch(self, name: str, from_ref: str | None = None) -> Branch:
        """Create a branch at ``from_ref`` (default: HEAD). HEAD does not move.

        The new branch's ``parent_branch`` records the branch it was created from.
        """
        commit_hash = self._history.resolve(from_ref if from_ref is not None else "HEAD")
        if from_ref is None:
            parent_branch = self._parts.refs.head().branch
        else:
            parent_branch = from_ref if self._history.is_branch(from_ref) else None
        return self._branches.create_branch(name, commit_hash, parent_branch)

    def delete_branch(self, name: str, *, force: bool = False) -> Branch:
        """Delete a branch. Refuses a branch whose commits no other branch or tag reaches,
        unless ``force``: then every commit made on it stays in ``repo.reflog("HEAD")``, and
        gc keeps it until that entry expires (``gc.reflog_expire_unreachable``, 30 days), so
        ``repo.create_branch(name, commit_hash)`` restores it."""
        with self._parts.lock.hold():  # the checks and the deletion are one step
            branch = self._branches.get_branch(name)
            current = self._parts.refs.head().branch
            if not force and current != name:  # deleting the current branch: refused below
                others = [b.commit_hash for b in self._branches.list_branches() if b.name != name]
                others += [v.commit_hash for v in self._parts.versions.all().values()]
                graph = self._history.graph
                if not any(graph.is_ancestor(branch.commit_hash, o) for o in others):
                    raise UnmergedBranchError(
                        f"branch {name!r} is not merged into any other branch or tag; "
                        f"delete it with delete_branch({name!r}, force=True) if you mean it"
                    )
            return self._branches.delete_branch(name)

    def tag_version(
        self,
        name: str,
        description: str | None = None,
        metrics: Mapping[str, float] | None = None,
        commit_ref: str | None = None,
    ) -> Version:
        """Tag a commit (default: HEAD) with a name, a description and metrics.

        Raises:
            RefExistsError: the tag exists (tags never move).
            InvalidValueError: a metric that is not a finite number.
        """
        commit_hash = self._history.resolve(commit_ref if commit_ref is not None else "HEAD")
        with self._parts.lock.hold():  # the branch check and the creation must be one step
            if self._history.is_branch(name):
                raise InvalidValueError(
                    f"{name!r} is already a branch; pick another tag name so refs stay unambiguous"
                )
            return self._parts.versions.create(name, commit_hash, description, metrics)

"""Branches: :class:`Branch` (a name and the commit it points at) and :class:`BranchManager`,
which creates, lists, moves and deletes them."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from coral.errors import CannotDeleteCurrentBranchError, InvalidValueError, RefNotFoundError
from coral.records.refnames import check_ref_name
from coral.records.refs import Branch, RefStore
from coral.records.tags import VersionStore

__all__ = ["Branch", "BranchManager"]


class BranchManager:
    """Create, list, move and delete branches; knows which branch HEAD is on.

    Reached as ``repo.branch_manager``. ``who`` is the identity recorded in the reflog;
    ``tags`` the repository's tags, whose names no branch may take.
    """

    def __init__(
        self,
        refs: RefStore,
        resolve: Callable[[str], str],
        who: Callable[[], str] = lambda: "coral",
        *,
        tags: VersionStore,
    ) -> None:
        self._refs = refs
        self._resolve = resolve
        self._who = who
        self._tags = tags

    def create_branch(
        self,
        name: str,
        commit_ref: str,
        parent_branch: str | None = None,
        *,
        message: str | None = None,
    ) -> Branch:
        """Create ``name`` at ``commit_ref`` (any ref); ``message`` goes to the reflog.

        Raises:
            RefExistsError: the branch exists.
            InvalidValueError: a tag has that name (a name is a branch or a tag, never both,
                so that it resolves one way).
            RefNotFoundError: ``commit_ref`` does not resolve.
        """
        branch = Branch(check_ref_name(name), self._resolve(commit_ref), parent_branch)
        with self._refs.lock.hold():  # the tag check and the creation must be one step
            if self._tags.by_name(branch.name) is not None:
                raise InvalidValueError(
                    f"{name!r} is already a tag; pick another branch name so refs stay unambiguous"
                )
            self._refs.write_branch(
                branch,
                expected=None,
                who=self._who(),
                message=message or f"branch: created at {branch.commit_hash[:8]}",
            )
        return branch

    def update_branch(
        self, name: str, commit_ref: str, expected: str, message: str = "update"
    ) -> Branch:
        """Move ``name`` to ``commit_ref`` if it still points at ``expected``."""
        current = self.get_branch(name)
        branch = Branch(name, self._resolve(commit_ref), current.parent_branch)
        self._refs.write_branch(branch, expected=expected, who=self._who(), message=message)
        return branch

    def get_branch(self, name: str) -> Branch:
        """The branch called ``name``; raises :class:`RefNotFoundError` naming close matches."""
        branch = self._refs.read_branch(check_ref_name(name))
        if branch is None:
            names = [b.name for b in self.list_branches()]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RefNotFoundError(f"branch {name!r} does not exist{hint}")
        return branch

    def has_branch(self, name: str) -> bool:
        return self._refs.read_branch(check_ref_name(name)) is not None

    def list_branches(self) -> list[Branch]:
        """All branches, sorted by name."""
        return self._refs.list_branches()

    def get_current_branch(self) -> str | None:
        """The branch HEAD points to, or None when HEAD is detached."""
        return self._refs.head().branch

    def delete_branch(self, name: str) -> Branch:
        """Delete a branch (its commits stay in the store and in the reflog).

        Raises:
            CannotDeleteCurrentBranchError: (a ``ValueError``) ``name`` is checked out.
        """
        self.get_branch(name)
        with self._refs.lock.hold():
            if self.get_current_branch() == name:
                raise CannotDeleteCurrentBranchError(
                    f"Cannot delete current branch {name!r}; check out another branch first"
                )
            return self._refs.delete_branch(name, who=self._who())

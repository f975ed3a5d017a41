"""``Repository``: the one object a user needs, a thin facade over the plumbing modules.

Example:
    >>> import numpy as np
    >>> from coral.version_control import Repository
    >>> repo = Repository("./my_project", init=True)                    # doctest: +SKIP
    >>> repo.stage_weights({"fc.weight": np.ones((4, 4), np.float32)})   # doctest: +SKIP
    >>> commit = repo.commit("first weights")                             # doctest: +SKIP
    >>> repo.get_weight("fc.weight").shape                                # doctest: +SKIP
    (4, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.delta.similarity import SimilarityIndex
from coral.errors import (
    InvalidTypeError,
    InvalidValueError,
    NothingToCommitError,
    ObjectNotFoundError,
    StagedChangesError,
    UnmergedBranchError,
    WeightNotFoundError,
    WeightTypeError,
)
from coral.history.api import HistoryCommands
from coral.history.graph import VersionGraph
from coral.history.inspect_api import InspectCommands
from coral.history.lazy import LazyWeights
from coral.history.resolve import RefResolver
from coral.integrations.model_files import ModelFileCommands
from coral.maintenance.api import MaintenanceCommands
from coral.merge.api import MergeCommands
from coral.records.assets import RESERVED_PREFIXES, is_reserved_name, weight_names
from coral.records.branch import Branch, BranchManager
from coral.records.commit import Commit, CommitMetadata
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.identity import resolve_identity
from coral.records.layout import RepoLayout
from coral.records.refs import Head, RefStore
from coral.records.staging import StagedChanges, StagedWeight, StagingArea
from coral.records.store_setup import open_store
from coral.records.tags import Version, VersionStore, check_metrics
from coral.records.tracking import TrackingRefs
from coral.remote.api import RemoteCommands
from coral.storage.locking import RepositoryLock
from coral.storage.objects import WriteRequest
from coral.workspace.guards import writes_objects
from coral.workspace.snapshot import next_snapshot
from coral.workspace.status import Status, compute_status
from coral.workspace.weight_input import (
    check_weight_name,
    missing_weight_message,
    name_set,
    prepare_weight,
)
from coral.workspace.write_plan import WritePlanner


class Repository(
    HistoryCommands,
    MergeCommands,
    RemoteCommands,
    InspectCommands,
    MaintenanceCommands,
    ModelFileCommands,
):
    """A Coral repository: a ``.coral`` directory of weights, commits, branches and tags.

    Args:
        path: the project directory. Without ``init``, it may be any directory inside an
            existing repository (the nearest enclosing ``.coral`` is used, like git).
        init: create ``path/.coral`` if it does not exist yet.

    Raises:
        NotARepositoryError: (a ``FileNotFoundError``) no repository at or above ``path``.
    """

    def __init__(self, path: str | Path = ".", init: bool = False) -> None:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise InvalidValueError(f"{path} is a file; a repository path must be a directory")
        if init:
            path.mkdir(parents=True, exist_ok=True)
            layout = RepoLayout(path.resolve())
            layout.create()
        else:
            layout = RepoLayout.find(path)
        layout.ensure_dirs()
        self._layout = layout
        tmp = layout.tmp_dir
        self._lock = RepositoryLock(layout.lock_file)
        self.config = Config(layout.config_file, self._lock, tmp)
        self._lock.timeout = float(self.config.get("core.lock_timeout"))
        self.store = open_store(layout, self.config, self._lock)
        self._similarity = SimilarityIndex(layout.coral_dir / "objects" / "similarity.jsonl")
        self._commits = CommitStore(layout.commits_dir, tmp)
        self._refs = RefStore(layout.coral_dir, tmp, self._lock)
        self._versions = VersionStore(layout.versions_dir, tmp, self._lock)
        self._staging = StagingArea(layout.staging_file, tmp, self._lock)
        self._tracking = TrackingRefs(layout.coral_dir, tmp)
        self._resolver = RefResolver(self._refs, self._commits, self._versions, self._tracking)
        self.branch_manager = BranchManager(
            self._refs, self.resolve_ref, who=self._who, tags=self._versions
        )
        self.version_graph = VersionGraph(self._commits, self._versions, self.resolve_ref)

    # --- where things are ---

    @property
    def path(self) -> Path:
        """The project directory (the parent of ``.coral``)."""
        return self._layout.root

    @property
    def coral_dir(self) -> Path:
        return self._layout.coral_dir

    @property
    def head(self) -> Head:
        """Where HEAD points: ``head.branch`` (None when detached) and ``head.commit_hash``."""
        return self._refs.head()

    @property
    def current_branch(self) -> str | None:
        return self._refs.head().branch

    def _who(self) -> str:
        name, email = resolve_identity(
            self.config.get("user.name", None), self.config.get("user.email", None)
        )
        return f"{name} <{email}>"

    # --- refs ---

    def resolve_ref(self, ref: str) -> str:
        """The full commit hash for a branch, tag, (abbreviated) hash, ``HEAD`` or ``X~N``."""
        return self._resolver.resolve(ref)

    def get_commit(self, ref: str = "HEAD") -> Commit:
        return self._commits.get(self.resolve_ref(ref))

    def _head_commit(self) -> Commit | None:
        head = self._refs.head()
        return self._commits.get(head.commit_hash) if head.commit_hash else None

    # --- staging ---

    def stage_weights(
        self,
        weights: Mapping[str, WeightTensor | np.ndarray | Any],
        *,
        partial: bool = False,
        remove_missing: bool = False,
        lossy: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        """Store weights and stage them for the next commit.

        The next commit is the snapshot staged since the last commit: exactly the weights
        staged (several calls accumulate; a later one replaces names of an earlier one), plus
        HEAD's model files (``stage_files``). A weight HEAD holds that was not staged is not
        in it: a model that dropped a layer commits without the layer.

        Args:
            weights: name -> ``WeightTensor``, NumPy array or ``torch.Tensor``. The dict key is
                the name recorded (a ``WeightTensor`` with another ``metadata.name`` is renamed).
            partial: update some weights only: the next commit keeps HEAD's weights (and
                optimizer state) that were not staged. One partial call makes the whole next
                commit partial.
            remove_missing: also stage the removal of every weight in HEAD that ``weights``
                does not name (the default snapshot already leaves them out; with
                ``partial`` staged as well, this still makes the commit hold exactly
                ``weights``).
            lossy: ``True`` stores each float weight's change since HEAD rounded to int8 steps
                (``int8_quantized``): much smaller, but the committed weight is the rounded
                one and its metadata says so. Default: lossless, unless the repository is
                configured with ``core.delta_type = "int8_quantized"`` and
                ``core.allow_lossy = true``.
            progress: called with each weight's size in bytes once it has been encoded
                (for progress bars).

        Returns:
            ``{name: object_id}`` for every weight given.

        Raises:
            WeightTypeError / InvalidWeightError: before anything is written, for the first
                entry that is not a storable array.
            InvalidValueError: ``core.delta_type`` is ``int8_quantized`` but lossy storage
                was not allowed.
        """
        if not isinstance(weights, Mapping):
            raise WeightTypeError(
                f"stage_weights takes a dict of name -> weight, got {type(weights).__name__}"
            )
        reserved = [n for n in weights if isinstance(n, str) and is_reserved_name(n)]
        if reserved:
            raise InvalidValueError(
                f"weight names starting with {' or '.join(RESERVED_PREFIXES)} are reserved "
                f"({reserved[0]!r}); use repo.stage_files() or repo.stage_optimizer_state()"
            )
        return self._stage(
            weights,
            partial=partial,
            remove_missing=remove_missing,
            lossy=lossy,
            progress=progress,
        )

    @writes_objects
    def _stage(
        self,
        weights: Mapping[str, Any],
        *,
        partial: bool = False,
        remove_missing: bool = False,
        lossy: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        prepared = [
            (check_weight_name(name), prepare_weight(name, value))
            for name, value in weights.items()
        ]
        planner = WritePlanner(
            self.config,
            self.store,
            self._similarity,
            self._head_commit(),
            self._commits,
            lossy,
        )
        entries = [planner.plan(name, value, metadata) for name, (value, metadata) in prepared]

        def requests() -> Iterator[WriteRequest]:
            for _, request, _ in entries:
                yield request
                if progress is not None:  # the writer asks for the next one: this one is done
                    progress(request.array.nbytes)

        with self.store.writer() as writer:
            oids = writer.add_many(requests())
        for oid, (_, request, _) in zip(oids, entries, strict=True):
            self._similarity.add(oid, request.array)
        staged = {
            name: StagedWeight(oid, metadata)
            for (name, _, metadata), oid in zip(entries, oids, strict=True)
        }
        removed: set[str] = set()
        if remove_missing:  # the weights, that is: the model's files stay
            head = self._head_commit()
            removed = set(weight_names(head.weight_hashes)) - staged.keys() if head else set()
        self._staging.stage(staged, removed, partial=partial)
        return {name: sw.object_id for name, sw in staged.items()}

    def stage_removal(self, names: str | Iterable[str]) -> None:
        """Stage the removal of weights (or model files) from the next commit, like
        ``git rm``: with nothing else staged, the commit is HEAD without them."""
        wanted = name_set(names)
        head = self._head_commit()
        present = set(head.weight_hashes) if head else set()
        present |= self._staging.read().weights.keys()
        missing = sorted(wanted - present)
        if missing:
            raise WeightNotFoundError(
                missing_weight_message(missing[0], present, "HEAD or staging")
            )
        self._staging.stage({}, wanted)

    def unstage(self, names: str | Iterable[str] | None = None) -> None:
        """Drop staged changes for ``names`` (all of them when None). Objects stay stored."""
        self._staging.unstage(None if names is None else name_set(names))

    def status(self) -> Status:
        """Where HEAD is, and what the next commit would add, modify or remove (including
        HEAD's weights the staged snapshot leaves out)."""
        head = self._refs.head()
        parent = self._commits.get(head.commit_hash) if head.commit_hash else None
        return compute_status(head.branch, parent, self._staging.read())

    # --- committing ---

    def commit(
        self,
        message: str,
        author: str | None = None,
        email: str | None = None,
        tags: list[str] | str | None = None,
        *,
        allow_empty: bool = False,
        metrics: Mapping[str, float] | None = None,
    ) -> Commit:
        """Record the snapshot staged since the last commit, and move the branch to it.

        The commit holds exactly the weights staged (and HEAD's model files); with
        ``stage_weights(..., partial=True)`` it keeps HEAD's other weights too. ``status()``
        says beforehand what it will remove.

        Args:
            message: what changed and why.
            author, email: default to ``user.name``/``user.email`` (config, then git config).
            tags: free-form labels kept in the commit metadata.
            allow_empty: commit even when the snapshot equals HEAD's.
            metrics: name -> finite number (loss, accuracy...), kept in
                ``metadata.extra["metrics"]`` and plotted across versions by the notebook
                widgets, like the metrics of tags.

        Raises:
            NothingToCommitError: nothing staged, or the snapshot equals HEAD's.
        """
        if not isinstance(message, str):
            raise InvalidValueError(
                f"commit message must be a string, got {type(message).__name__}"
            )
        if tags is not None and not isinstance(tags, str | list | tuple):
            raise InvalidTypeError(
                f"commit tags must be a string or a list of strings, got {type(tags).__name__}"
            )
        labels = [tags] if isinstance(tags, str) else list(tags or [])
        if not all(isinstance(t, str) for t in labels):
            raise InvalidValueError("commit tags must be strings")
        for label, value in (("author", author), ("email", email)):
            if value is not None and not isinstance(value, str):
                raise InvalidValueError(f"{label} must be a string, got {type(value).__name__}")
        checked_metrics = check_metrics(metrics)
        default_name, default_email = resolve_identity(
            self.config.get("user.name", None), self.config.get("user.email", None)
        )
        with self._lock.hold():
            staged = self._staging.read()
            if staged.empty:
                raise NothingToCommitError(
                    "nothing staged; stage weights with repo.stage_weights(...) first"
                )
            head = self._refs.head()
            parent = self._commits.get(head.commit_hash) if head.commit_hash else None
            weight_hashes, weight_metadata = self._snapshot(parent, staged)
            if (
                parent is not None
                and not allow_empty
                and weight_hashes == parent.weight_hashes
                and weight_metadata == parent.weight_metadata
            ):
                raise NothingToCommitError(
                    f"nothing to commit: the staged weights are identical to HEAD "
                    f"({parent.short_hash}); pass allow_empty=True to commit anyway"
                )
            lossy_weights = sorted(n for n, m in weight_metadata.items() if "lossy" in m.extra)
            metadata = CommitMetadata(
                author=author or default_name,
                email=email or default_email,
                message=message,
                tags=labels,
                extra={
                    **({"lossy_weights": lossy_weights} if lossy_weights else {}),
                    **({"metrics": checked_metrics} if checked_metrics else {}),
                },
            )
            commit = self._record_commit(
                head,
                [parent.commit_hash] if parent else [],
                weight_hashes,
                weight_metadata,
                metadata,
                f"commit: {message.splitlines()[0] if message else ''}",
            )
            self._staging.clear_committed(staged)
        return commit

    def _record_commit(
        self,
        head: Head,
        parents: list[str],
        weight_hashes: dict[str, str],
        weight_metadata: dict[str, WeightMetadata],
        metadata: CommitMetadata,
        reflog_message: str,
    ) -> Commit:
        """Write a commit over stored objects and move HEAD to it (lock held)."""
        commit = Commit.create(
            parents,
            weight_hashes,
            metadata,
            weight_metadata,
            delta_weights=self._delta_weights(weight_hashes),
        )
        self._commits.put(commit)
        self._advance_head(head, commit, reflog_message)
        return commit

    def _delta_weights(self, weight_hashes: dict[str, str]) -> dict[str, str]:
        """name -> the objects a weight's stored delta is encoded against (comma-separated),
        for the weights stored as deltas; ``weight_hashes`` keep the reconstructed IDs."""
        delta_weights = {}
        for name, oid in weight_hashes.items():
            bases = self.store.info(oid).bases
            if bases:
                delta_weights[name] = ",".join(bases)
        return delta_weights

    def _snapshot(
        self, parent: Commit | None, staged: StagedChanges
    ) -> tuple[dict[str, str], dict[str, WeightMetadata]]:
        for name, entry in staged.weights.items():
            if entry.object_id not in self.store:
                raise ObjectNotFoundError(
                    f"staged weight {name!r} refers to object {entry.object_id}, which is no "
                    "longer stored; stage it again"
                )
        snapshot = next_snapshot(parent, staged)
        return snapshot.weight_hashes, snapshot.weight_metadata

    def _advance_head(self, head: Head, commit: Commit, message: str) -> None:
        """Point HEAD's branch (or a detached HEAD) at ``commit``; called with the lock held.
        Moving HEAD's branch also logs the move in HEAD's reflog (``RefStore.write_branch``)."""
        if head.branch is None:
            self._refs.set_head_detached(commit.commit_hash)
            self._refs.append_reflog(
                "HEAD", head.commit_hash, commit.commit_hash, self._who(), message
            )
        elif head.commit_hash is None:  # the first commit creates HEAD's branch
            self._refs.write_branch(
                Branch(head.branch, commit.commit_hash),
                expected=None,
                who=self._who(),
                message=message,
            )
        else:
            self.branch_manager.update_branch(
                head.branch, commit.commit_hash, expected=head.commit_hash, message=message
            )

    # --- branches and checkout ---

    def create_branch(self, name: str, from_ref: str | None = None) -> Branch:
        """Create a branch at ``from_ref`` (default: HEAD). HEAD does not move.

        The new branch's ``parent_branch`` records the branch it was created from.
        """
        commit_hash = self.resolve_ref(from_ref if from_ref is not None else "HEAD")
        if from_ref is None:
            parent_branch = self.current_branch
        else:
            parent_branch = from_ref if self._is_branch(from_ref) else None
        with self._lock.hold():  # the tag check and the creation must be one step
            if self._versions.by_name(name) is not None:
                raise InvalidValueError(
                    f"{name!r} is already a tag; pick another branch name so refs stay unambiguous"
                )
            return self.branch_manager.create_branch(name, commit_hash, parent_branch)

    def delete_branch(self, name: str, *, force: bool = False) -> Branch:
        """Delete a branch. Refuses a branch whose commits no other branch or tag reaches,
        unless ``force``: then every commit made on it stays in ``repo.reflog("HEAD")``, and
        gc keeps it until that entry expires (``gc.reflog_expire_unreachable``, 30 days), so
        ``repo.create_branch(name, commit_hash)`` restores it."""
        with self._lock.hold():  # the checks and the deletion are one step
            branch = self.branch_manager.get_branch(name)
            if not force and self.current_branch != name:  # that refusal comes first, below
                others = [
                    b.commit_hash for b in self.branch_manager.list_branches() if b.name != name
                ]
                others += [v.commit_hash for v in self._versions.all().values()]
                if not any(self.version_graph.is_ancestor(branch.commit_hash, o) for o in others):
                    raise UnmergedBranchError(
                        f"branch {name!r} is not merged into any other branch or tag; "
                        f"delete it with delete_branch({name!r}, force=True) if you mean it"
                    )
            return self.branch_manager.delete_branch(name)

    def _is_branch(self, ref: str) -> bool:
        try:
            return self.branch_manager.has_branch(ref)
        except ValueError:
            return False

    def checkout(self, target: str, *, force: bool = False) -> Commit:
        """Switch HEAD to a branch, or detach it at any other ref (tag, hash, ``main~2``).

        Raises:
            StagedChangesError: weights are staged (commit them, ``repo.reset()``, or pass
                ``force=True`` to drop them).
        """
        with self._lock.hold():
            head = self._refs.head()
            if target == "HEAD":  # as in git: stay where we are
                new_hash, new_branch = self.resolve_ref("HEAD"), head.branch
            elif self._is_branch(target):
                branch = self.branch_manager.get_branch(target)
                new_hash, new_branch = branch.commit_hash, branch.name
            else:
                new_hash, new_branch = self.resolve_ref(target), None
            if (new_branch, new_hash) != (head.branch, head.commit_hash):
                # Entries equal to HEAD (e.g. left by a commit killed before it cleared the
                # staging area) change nothing, so they do not block a checkout.
                staged = self.status()
                if staged.has_changes and not force:
                    raise StagedChangesError(
                        f"weights are staged; commit them, call repo.reset(), or use "
                        f"checkout({target!r}, force=True) to drop them"
                    )
                if not self._staging.read().empty:  # incl. removals of names HEAD lacks
                    self._staging.unstage(None)
                if new_branch is not None:
                    self._refs.set_head_branch(new_branch)
                else:
                    self._refs.set_head_detached(new_hash)
                origin = head.branch or str(head.commit_hash)[:8]
                self._refs.append_reflog(
                    "HEAD",
                    head.commit_hash,
                    new_hash,
                    self._who(),
                    f"checkout: moving from {origin} to {target}",
                )
        return self._commits.get(new_hash)

    # --- tags ---

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
        commit_hash = self.resolve_ref(commit_ref if commit_ref is not None else "HEAD")
        with self._lock.hold():  # the branch check and the creation must be one step
            if self._is_branch(name):
                raise InvalidValueError(
                    f"{name!r} is already a branch; pick another tag name so refs stay unambiguous"
                )
            return self._versions.create(name, commit_hash, description, metrics)

    def list_versions(self) -> list[Version]:
        """All tags, oldest first."""
        return list(self._versions.all().values())

    def get_version(self, name: str) -> Version:
        return self._versions.get(name)

    def delete_version(self, name: str) -> Version:
        return self._versions.delete(name)

    # --- reading weights ---

    def _verify_reads(self) -> bool:
        return bool(self.config.get("core.verify_reads"))

    def _load(self, name: str, commit: Commit) -> WeightTensor:
        oid = commit.weight_hashes.get(check_weight_name(name))
        if oid is None:
            raise WeightNotFoundError(
                missing_weight_message(name, commit.weight_hashes, f"commit {commit.short_hash}")
            )
        arr = self.store.read(oid, verify=self._verify_reads())
        return WeightTensor._trusted(arr, self._metadata(commit, name, arr), oid)

    @staticmethod
    def _metadata(commit: Commit, name: str, arr: np.ndarray) -> WeightMetadata:
        return commit.weight_metadata.get(name) or WeightMetadata(name, arr.shape, arr.dtype)

    def get_weight(
        self, name: str, commit_ref: str | None = None, remote: str | None = None
    ) -> WeightTensor:
        """One weight, bit-exact, from a commit (default: HEAD).

        With ``remote``, ``commit_ref`` names a branch, tag or commit *on that remote*, and
        only this weight's objects (and their delta bases) are downloaded: a look at one layer
        of a large model without pulling all of it.
        """
        if remote is not None:
            commit = self._fetch_weight_commit(remote, commit_ref or "HEAD", name)
            return self._load(name, commit)
        return self._load(name, self.get_commit(commit_ref or "HEAD"))

    def get_all_weights(
        self, commit_ref: str | None = None, *, lazy: bool = False
    ) -> dict[str, WeightTensor] | LazyWeights:
        """Every weight of a commit (default: HEAD), bit-exact.

        Args:
            lazy: return a :class:`LazyWeights` mapping that reads each tensor on access.
        """
        commit = self.get_commit(commit_ref or "HEAD")
        if lazy:
            return LazyWeights(commit, self._load, weight_names(commit.weight_hashes))
        names = weight_names(commit.weight_hashes)
        oids = [commit.weight_hashes[name] for name in names]
        arrays = self.store.read_many(oids, verify=self._verify_reads())
        return {
            name: WeightTensor._trusted(arr, self._metadata(commit, name, arr), oid)
            for name, oid, arr in zip(names, oids, arrays, strict=True)
        }

    def close(self) -> None:
        """Close open pack files (reopened on demand)."""
        self.store.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        head = self._refs.head()
        where = head.branch or f"detached {str(head.commit_hash)[:8]}"
        return f"Repository({str(self.path)!r}, {where})"

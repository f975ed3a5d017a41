"""``Workspace``: stage weights and turn them into commits on one line of history.

A workspace is a staging area plus the ref its commits move:

* the repository's own workspace (``branch=None``) uses the shared staging area and commits
  where HEAD points: HEAD's branch, or a detached HEAD;
* a second writer (a run) gets a workspace bound to one branch, with a staging area of its
  own: its commits move that branch by compare-and-swap and never touch HEAD, the shared
  staging area or any other writer.

Concurrency: objects are stored without the repository lock (staging writes packs); a commit
then reads its staging area, builds the snapshot and moves its ref under the lock, checking
the ref still points where the commit's parent says (else :class:`ConcurrentUpdateError`,
nothing lost). Write order: objects durable, commit file, ref, reflog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from coral.core.weight_tensor import WeightMetadata
from coral.errors import (
    InvalidTypeError,
    InvalidValueError,
    NothingToCommitError,
    ObjectNotFoundError,
    StagedChangesError,
    WeightNotFoundError,
    WeightTypeError,
)
from coral.history.service import History
from coral.records.assets import RESERVED_PREFIXES, is_reserved_name, weight_names
from coral.records.branch import Branch
from coral.records.commit import Commit, CommitMetadata
from coral.records.parts import RepositoryParts
from coral.records.refs import Head
from coral.records.staging import StagedChanges, StagedWeight, StagingArea
from coral.records.tags import check_metrics
from coral.records.weight_names import check_weight_name, missing_weight_message, name_set
from coral.storage.objects import WriteRequest
from coral.storage.store import TensorStore
from coral.workspace.guards import writes_objects
from coral.workspace.snapshot import next_snapshot
from coral.workspace.status import Status, compute_status
from coral.workspace.weight_input import prepare_weight
from coral.workspace.write_plan import WritePlanner


class Workspace:
    """A staging area and the ref its commits move (HEAD's, or one branch's).

    Args:
        parts: the repository.
        history: its read side (resolving refs, reading commits).
        staging: the staging area (default: the repository's shared one).
        branch: commit to this branch only, leaving HEAD alone (a second writer). ``None``:
            commit where HEAD points.
    """

    def __init__(
        self,
        parts: RepositoryParts,
        history: History,
        *,
        staging: StagingArea | None = None,
        branch: str | None = None,
    ) -> None:
        self._parts = parts
        self._history = history
        self.staging = staging if staging is not None else parts.staging
        self.branch = branch

    @property
    def store(self) -> TensorStore:
        return self._parts.store

    # --- where commits go ---

    def tip(self) -> Head:
        """The ref this workspace commits to, and the commit it points at now."""
        if self.branch is None:
            return self._parts.refs.head()
        current = self._parts.refs.read_branch(self.branch)
        return Head(self.branch, current.commit_hash if current else None)

    def parent(self) -> Commit | None:
        """The commit the next commit's snapshot is made against."""
        tip = self.tip().commit_hash
        return self._parts.commits.get(tip) if tip else None

    # --- staging ---

    def stage_weights(
        self,
        weights: Mapping[str, Any],
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
        return self.stage_entries(
            weights, partial=partial, remove_missing=remove_missing, lossy=lossy, progress=progress
        )

    @writes_objects
    def stage_entries(
        self,
        entries: Mapping[str, Any],
        *,
        partial: bool = False,
        remove_missing: bool = False,
        lossy: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        """Store and stage any entries, reserved names included (model files, optimizer
        state): the one path every staging takes."""
        prepared = [
            (check_weight_name(name), prepare_weight(name, value))
            for name, value in entries.items()
        ]
        planner = self.planner(self.parent(), lossy)
        planned = [planner.plan(name, value, metadata) for name, (value, metadata) in prepared]

        def requests() -> Iterator[WriteRequest]:
            for _, request, _ in planned:
                yield request
                if progress is not None:  # the writer asks for the next one: this one is done
                    progress(request.array.nbytes)

        with self.store.writer() as writer:
            oids = writer.add_many(requests())
        for oid, (_, request, _) in zip(oids, planned, strict=True):
            self._parts.similarity.add(oid, request.array)
        staged = {
            name: StagedWeight(oid, metadata)
            for (name, _, metadata), oid in zip(planned, oids, strict=True)
        }
        removed: set[str] = set()
        if remove_missing:  # the weights, that is: the model's files stay
            parent = self.parent()
            removed = set(weight_names(parent.weight_hashes)) - staged.keys() if parent else set()
        self.staging.stage(staged, removed, partial=partial)
        return {name: sw.object_id for name, sw in staged.items()}

    def planner(self, parent: Commit | None, lossy: bool | None = False) -> WritePlanner:
        """How new objects are encoded: as deltas against ``parent``'s versions."""
        parts = self._parts
        return WritePlanner(
            parts.config, parts.store, parts.similarity, parent, parts.commits, lossy
        )

    def stage_removal(self, names: str | Iterable[str]) -> None:
        """Stage the removal of weights (or model files) from the next commit, like
        ``git rm``: with nothing else staged, the commit is the parent without them."""
        wanted = name_set(names)
        parent = self.parent()
        present = set(parent.weight_hashes) if parent else set()
        present |= self.staging.read().weights.keys()
        missing = sorted(wanted - present)
        if missing:
            raise WeightNotFoundError(
                missing_weight_message(missing[0], present, "HEAD or staging")
            )
        self.staging.stage({}, wanted)

    def unstage(self, names: str | Iterable[str] | None = None) -> None:
        """Drop staged changes for ``names`` (all of them when None). Objects stay stored."""
        self.staging.unstage(None if names is None else name_set(names))

    def status(self) -> Status:
        """Where the ref is, and what the next commit would add, modify or remove."""
        tip = self.tip()
        parent = self._parts.commits.get(tip.commit_hash) if tip.commit_hash else None
        return compute_status(tip.branch, parent, self.staging.read())

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
        extra: Mapping[str, Any] | None = None,
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
            extra: more keys for ``metadata.extra`` (a run's record).

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
        default_name, default_email = self._parts.identity()
        with self._parts.lock.hold():
            staged = self.staging.read()
            if staged.empty:
                raise NothingToCommitError(
                    "nothing staged; stage weights with repo.stage_weights(...) first"
                )
            tip = self.tip()
            parent = self._parts.commits.get(tip.commit_hash) if tip.commit_hash else None
            weight_hashes, weight_metadata = self._snapshot(parent, staged)
            if (
                parent is not None
                and not allow_empty
                and weight_hashes == parent.weight_hashes
                and weight_metadata == parent.weight_metadata
            ):
                where = "HEAD" if self.branch is None else f"{self.branch!r}"
                raise NothingToCommitError(
                    f"nothing to commit: the staged weights are identical to {where} "
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
                    **dict(extra or {}),
                },
            )
            commit = self.record_commit(
                tip,
                [parent.commit_hash] if parent else [],
                weight_hashes,
                weight_metadata,
                metadata,
                f"commit: {message.splitlines()[0] if message else ''}",
            )
            self.staging.clear_committed(staged)
        return commit

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

    def record_commit(
        self,
        tip: Head,
        parents: list[str],
        weight_hashes: dict[str, str],
        weight_metadata: dict[str, WeightMetadata],
        metadata: CommitMetadata,
        reflog_message: str,
    ) -> Commit:
        """Write a commit over stored objects and move the ref from ``tip`` to it (the lock
        is held by the caller)."""
        commit = Commit.create(
            parents,
            weight_hashes,
            metadata,
            weight_metadata,
            delta_weights=self._delta_weights(weight_hashes),
        )
        self._parts.commits.put(commit)
        self.advance(tip, commit, reflog_message)
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

    def advance(self, tip: Head, commit: Commit, message: str) -> None:
        """Point the ref at ``commit`` if it still points at ``tip``; with the lock held.
        Moving HEAD's branch also logs the move in HEAD's reflog (``RefStore.write_branch``)."""
        refs, who = self._parts.refs, self._parts.who()
        if tip.branch is None:  # a detached HEAD
            refs.set_head_detached(commit.commit_hash)
            refs.append_reflog("HEAD", tip.commit_hash, commit.commit_hash, who, message)
            return
        current = refs.read_branch(tip.branch)
        parent_branch = current.parent_branch if current else None
        refs.write_branch(
            Branch(tip.branch, commit.commit_hash, parent_branch),
            expected=tip.commit_hash,
            who=who,
            message=message,
        )

    # --- moving HEAD (the repository's own workspace) ---

    def checkout(self, target: str, *, force: bool = False) -> Commit:
        """Switch HEAD to a branch, or detach it at any other ref (see ``Repository.checkout``)."""
        self._require_head("checkout")
        refs = self._parts.refs
        with self._parts.lock.hold():
            head = refs.head()
            if target == "HEAD":  # as in git: stay where we are
                new_hash, new_branch = self._history.resolve("HEAD"), head.branch
            elif self._history.is_branch(target):
                branch = refs.read_branch(target)
                assert branch is not None  # checked under the lock just above
                new_hash, new_branch = branch.commit_hash, branch.name
            else:
                new_hash, new_branch = self._history.resolve(target), None
            if (new_branch, new_hash) != (head.branch, head.commit_hash):
                # Entries equal to HEAD (e.g. left by a commit killed before it cleared the
                # staging area) change nothing, so they do not block a checkout.
                if self.status().has_changes and not force:
                    raise StagedChangesError(
                        f"weights are staged; commit them, call repo.reset(), or use "
                        f"checkout({target!r}, force=True) to drop them"
                    )
                if not self.staging.read().empty:  # incl. removals of names HEAD lacks
                    self.staging.unstage(None)
                if new_branch is not None:
                    refs.set_head_branch(new_branch)
                else:
                    refs.set_head_detached(new_hash)
                origin = head.branch or str(head.commit_hash)[:8]
                refs.append_reflog(
                    "HEAD",
                    head.commit_hash,
                    new_hash,
                    self._parts.who(),
                    f"checkout: moving from {origin} to {target}",
                )
        return self._parts.commits.get(new_hash)

    def reset(self, ref: str | None = None) -> Commit | None:
        """Empty the staging area and, with ``ref``, move the ref to it (see
        ``Repository.reset``)."""
        if ref is None:
            self.unstage(None)
            return None
        target = self._history.commit(ref)
        with self._parts.lock.hold():
            tip = self.tip()
            if tip.branch is None:
                raise InvalidValueError("HEAD is detached: check out a branch, then reset it")
            self.advance(tip, target, f"reset: moving to {ref}")
            self.unstage(None)
        return target

    def _require_head(self, operation: str) -> None:
        if self.branch is not None:
            raise InvalidValueError(
                f"{operation} moves HEAD; a workspace bound to branch {self.branch!r} cannot"
            )

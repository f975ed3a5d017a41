"""Every error Coral raises on purpose.

Each error is a :class:`CoralError` and also the builtin a Python user would expect, so
``except KeyError`` around ``repo.get_weight(...)`` keeps working. Messages say what went wrong
and how to fix it; they are single lines so the Jupyter layer can show them as-is.

Tree::

    CoralError
    ├── NotARepositoryError            (FileNotFoundError)
    ├── RepositoryFormatError          (ValueError)   unreadable/unsupported .coral layout
    ├── ConfigError                    (ValueError)
    ├── InvalidNameError               (ValueError)   branch/tag names
    ├── InvalidValueError              (ValueError)   other bad arguments (metrics, messages)
    │   └── InvalidTypeError           (TypeError)    an argument of the wrong type (file bytes)
    ├── InvalidWeightError             (ValueError)   shape/dtype mismatch, unsupported dtype
    │   └── WeightTypeError            (TypeError)    not an array at all
    ├── RefNotFoundError               (KeyError)     branch, tag, commit, HEAD~N
    │   └── UnbornBranchError                         no commit yet
    ├── AmbiguousRefError              (ValueError)   abbreviated hash matches several commits
    ├── WeightNotFoundError            (KeyError)
    ├── ObjectNotFoundError            (KeyError)     a stored tensor is missing
    ├── CorruptObjectError             (ValueError)   stored bytes fail verification
    ├── RefExistsError                 (ValueError)   branch or tag name already taken
    ├── CannotDeleteCurrentBranchError (ValueError)
    ├── UnmergedBranchError            (ValueError)   deleting a branch nothing else reaches
    ├── NothingToCommitError           (ValueError)
    ├── StagedChangesError             (RuntimeError) checkout would drop staged weights
    ├── ConcurrentUpdateError          (RuntimeError) a ref moved under a compare-and-swap
    ├── LockOrderError                 (RuntimeError) gc inside a write; locks in the wrong order
    ├── MergeConflictError             (ValueError)   conflicts a merge cannot resolve
    ├── LockTimeoutError               (TimeoutError)
    ├── RemoteError                    (RuntimeError) a remote cannot be reached or used
    │   ├── RemoteNotFoundError        (KeyError, FileNotFoundError) no such remote, folder, bucket
    │   ├── NonFastForwardError                       push would drop commits on the remote
    │   └── RemoteFormatError          (ValueError)   what a remote holds is invalid
    └── MissingExtraError              (ImportError)  an optional dependency is not installed
"""

from __future__ import annotations

from collections.abc import Mapping


class CoralError(Exception):
    """Base class of every error Coral raises on purpose."""

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes; show it as written.
        return str(self.args[0]) if self.args else self.__class__.__name__


class NotARepositoryError(CoralError, FileNotFoundError):
    """No ``.coral`` directory at or above the given path."""


class RepositoryFormatError(CoralError, ValueError):
    """A file under ``.coral`` is unreadable or from an unsupported format version."""


class ConfigError(CoralError, ValueError):
    """An unknown configuration key or an invalid value."""


class InvalidNameError(CoralError, ValueError):
    """A branch or tag name that git's ref-name rules (and ours) refuse."""


class InvalidValueError(CoralError, ValueError):
    """An argument with an invalid value (metrics, messages, descriptions)."""


class InvalidTypeError(InvalidValueError, TypeError):
    """An argument of the wrong type (model-file contents that are not bytes)."""


class InvalidWeightError(CoralError, ValueError):
    """An array that cannot be stored as given (shape/dtype mismatch, unsupported dtype)."""


class WeightTypeError(InvalidWeightError, TypeError):
    """Something that is not an array where a weight was expected."""


class RefNotFoundError(CoralError, KeyError):
    """A branch, tag, commit hash or relative ref that does not resolve."""


class UnbornBranchError(RefNotFoundError):
    """The current branch has no commit yet."""


class AmbiguousRefError(CoralError, ValueError):
    """An abbreviated commit hash that matches more than one commit."""


class WeightNotFoundError(CoralError, KeyError):
    """A weight name that is not in the commit asked for."""


class ObjectNotFoundError(CoralError, KeyError):
    """A tensor object that the store does not hold."""


class CorruptObjectError(CoralError, ValueError):
    """Stored bytes that do not hash to the object ID recorded for them."""


class RefExistsError(CoralError, ValueError):
    """A branch or tag name that is already taken."""


class CannotDeleteCurrentBranchError(CoralError, ValueError):
    """Deleting the branch HEAD points to."""


class UnmergedBranchError(CoralError, ValueError):
    """Deleting a branch whose commits no other branch or tag reaches, without ``force``."""


class NothingToCommitError(CoralError, ValueError):
    """A commit with nothing staged, or whose snapshot equals its parent's."""


class StagedChangesError(CoralError, RuntimeError):
    """An operation that would silently drop staged weights."""


class ConcurrentUpdateError(CoralError, RuntimeError):
    """A ref changed between reading it and updating it (compare-and-swap failed)."""


class MergeConflictError(CoralError, ValueError):
    """A merge stopped before writing anything: weights changed on both sides that the chosen
    strategy may not or cannot combine.

    Attributes:
        conflicts: their names, sorted.
        reasons: name -> why that weight could not be merged.
    """

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = dict(sorted(reasons.items()))
        self.conflicts = list(self.reasons)


class LockOrderError(CoralError, RuntimeError):
    """A lock asked for in an order that could deadlock: ``gc`` called while this thread is
    writing (from a ``stage_weights`` progress callback, say), or a write started while this
    thread holds the repository lock. Nothing was written; run it after the operation."""


class WriteFailedError(CoralError, OSError):
    """Storing objects failed (a full disk, a file-size limit); nothing was stored."""


class LockTimeoutError(CoralError, TimeoutError):
    """Another process held the repository lock for too long."""


class RemoteError(CoralError, RuntimeError):
    """A remote cannot be reached, refused a request, or is not a Coral remote."""


class RemoteNotFoundError(RemoteError, KeyError, FileNotFoundError):
    """No remote with that name is configured, or nothing exists at a remote's URL: its
    folder or bucket is missing (a typo?). A push creates a missing folder, never a bucket."""


class NonFastForwardError(RemoteError):
    """A push would move a remote branch to a commit that does not contain its current one.

    ``result`` holds what the push did for the branches and tags it could update."""

    def __init__(self, message: str, result: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.result: Mapping[str, object] = result if result is not None else {}


class RemoteFormatError(RemoteError, ValueError):
    """Something read from a remote is malformed, oversized, or does not match its name."""


class MissingExtraError(CoralError, ImportError):
    """An optional dependency (torch, boto3, the Jupyter stack) is not installed."""

    @classmethod
    def for_extra(cls, package: str, extra: str, purpose: str) -> MissingExtraError:
        return cls(
            f"{purpose} needs {package}, which is not installed; "
            f"install Coral's {extra!r} extra: pip install 'coral[{extra}]'"
        )

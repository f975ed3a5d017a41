"""Remotes: push, pull, clone and sync a repository through storage a team already has
(S3, MinIO or any S3-compatible store, a folder). Used through ``Repository.add_remote``,
``push``, ``pull``, ``sync``, ``get_sync_status`` and ``clone``; see the README's "Remotes".

Layering: this package sits above :mod:`coral.version_control` and is imported lazily by its
remote methods, so ``boto3`` (the ``s3`` extra) is only needed for S3 remotes.
"""

"""The record keys: each the record's path under ``.coral``.

::

    HEAD   config.json   remotes.json   staging/staged.json
    refs/heads/<branch>             logs/HEAD   logs/refs/heads/<branch>
    refs/remotes/<remote>/<branch>  objects/commits/<hash>.json   versions/<version_id>.json
    runs/<run>.json   runs/<run>.journal   staging/runs/<run>.json
"""

from __future__ import annotations

HEAD = "HEAD"
CONFIG = "config.json"
REMOTES = "remotes.json"
STAGING = "staging/staged.json"
HEADS = "refs/heads"
REMOTE_REFS = "refs/remotes"
LOGS = "logs"
COMMITS = "objects/commits"
VERSIONS = "versions"
RUNS = "runs"
RUN_STAGING = "staging/runs"

DEFAULT_BRANCH = "main"
HEAD_REF_PREFIX = "ref: refs/heads/"

"""Who is committing: environment, then repository config, then git's config, then a placeholder.

The order follows git: ``CORAL_AUTHOR_NAME``/``CORAL_AUTHOR_EMAIL`` override the repository's
``user.name``/``user.email``, which override ``git config user.name``/``user.email``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

PLACEHOLDER_NAME = "Unknown Author"
PLACEHOLDER_EMAIL = "unknown@localhost"


@functools.lru_cache(maxsize=8)
def git_config_value(key: str) -> str | None:
    """``git config --get key`` (global/system), or None when git or the key is absent."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "config", "--get", key],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~")) else None,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = result.stdout.strip()
    return value if result.returncode == 0 and value else None


def resolve_identity(config_name: str | None, config_email: str | None) -> tuple[str, str]:
    name = (
        os.environ.get("CORAL_AUTHOR_NAME")
        or config_name
        or git_config_value("user.name")
        or PLACEHOLDER_NAME
    )
    email = (
        os.environ.get("CORAL_AUTHOR_EMAIL")
        or config_email
        or git_config_value("user.email")
        or PLACEHOLDER_EMAIL
    )
    return name, email

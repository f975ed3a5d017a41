"""The ``coral`` command line (``coral --help``)."""

import sys

from coral.cli.app import main

__all__ = ["main", "main_exit"]


def main_exit() -> None:
    """The console script: ``main()``'s code becomes the process's exit status."""
    sys.exit(main())

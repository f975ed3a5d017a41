"""``python -m coral.cli``: the same as the ``coral`` command."""

from coral.cli import main_exit

main_exit()

"""``python -m ikeclient``: the same as the ``ikeclient`` command."""

from ikeclient.cli import main

main()

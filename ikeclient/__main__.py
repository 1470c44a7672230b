"""``python -m ikeclient``: the same as the ``ikeclient`` command."""

from ikeclient.entry import main

main()

"""``python -m streams`` is the ``finsent`` command."""

from streams.cli import main

main()

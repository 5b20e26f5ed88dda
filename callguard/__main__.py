"""``python -m callguard``."""

from callguard.cli.main import main

main()

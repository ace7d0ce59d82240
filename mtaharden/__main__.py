"""Allow `python -m mtaharden`."""

from .cli import main

main()

"""What the command's parts raise when a run cannot go on: bad input (exit 2), or nothing could be checked (3)."""

from __future__ import annotations

EXIT_CLEAN, EXIT_LISTED, EXIT_UNCHECKED = 0, 1, 3  # and 2, bad input, as every mtaharden command
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it


class BadInput(ValueError):
    """An argument or option the user must change; ``hint`` says how."""

    def __init__(self, where: str, message: str, hint: str) -> None:
        super().__init__(f"{where}: {message} (fix: {hint})")


class CouldNotCheck(RuntimeError):
    """Not the user's input but the network: e.g. the host name's addresses could not be looked up."""

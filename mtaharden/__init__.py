"""mtaharden: one mail hardening policy for a mixed MTA fleet."""

__version__ = "0.1.0"

"""The ``autoledger`` command line (Typer + Rich)."""

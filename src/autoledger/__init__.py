"""autoledger: the open backend for autonomous finance operations."""

__version__ = "0.1.0"

"""Shared kernel: settings, errors, ids, clock. Imports nothing else from autoledger."""

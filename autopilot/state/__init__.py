"""The crash-proof state layer: versioned locked state files and append-only journals.

Atomic durable writes live in :mod:`autopilot._atomic_write`, the module the original
specification names.
"""

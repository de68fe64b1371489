"""The visits domain."""

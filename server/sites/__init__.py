"""The sites domain."""

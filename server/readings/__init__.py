"""The readings domain."""

"""The items domain."""

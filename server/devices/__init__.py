"""The devices domain."""

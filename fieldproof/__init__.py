"""fieldproof."""

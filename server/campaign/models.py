"""Models of campaign (filled in by its issue-8 work)."""

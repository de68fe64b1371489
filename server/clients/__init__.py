"""Integration clients: case-management systems and data-sharing platforms, signing in with OAuth 2.0 client
credentials (RFC 6749 §4.4) for bearer tokens limited to the scopes they were given, in their unit."""

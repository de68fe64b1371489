"""field_app."""

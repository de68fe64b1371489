"""Webhooks: signed (Standard Webhooks) notifications to case systems, retried with backoff, with a delivery log."""

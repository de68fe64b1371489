"""uploads: database models."""

from __future__ import annotations

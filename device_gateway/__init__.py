"""device_gateway."""

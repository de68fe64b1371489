"""Pure codecs for the protocols field devices speak (no I/O here: bytes in, typed values out)."""

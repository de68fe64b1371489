"""The end-to-end demo behind ``fieldproof demo``: server, simulated devices, gateway, sync, court package."""

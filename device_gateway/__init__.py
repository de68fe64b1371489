"""The device gateway: reads monitors and cameras, keeps what they sent in a durable spool, syncs to the server."""

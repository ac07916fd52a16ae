"""`callrt bench`: live load over loopback (load generator, server and model peer processes)."""

"""Where the daemon keeps its data: the journal protocol, personal data, SQLite and Redis."""

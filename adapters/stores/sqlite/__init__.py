"""The embedded store: the journal and the personal data in SQLite files."""

"""The shared store: the journal, personal data and archive of a routing domain in Redis."""

"""The Asterisk channel: calls from a telephone system, through ARI (a Stasis application)."""

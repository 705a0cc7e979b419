"""Loading, checking and explaining ``config.toml``."""

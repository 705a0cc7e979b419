"""The people's pages (``/app/...``) in a real browser: what they show, and to whom."""

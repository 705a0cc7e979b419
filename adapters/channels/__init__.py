"""The channel protocol, and the channels built on it."""

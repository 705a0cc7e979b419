"""The X channel: direct messages and mentions in, answers as direct messages or replies."""

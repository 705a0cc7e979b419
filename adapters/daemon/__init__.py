"""The daemon: the runtime loop, the supervision of channels, metrics, logs and the API."""

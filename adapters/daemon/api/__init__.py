"""The daemon's HTTP and WebSocket API: routes, models, tokens, limits and documents."""

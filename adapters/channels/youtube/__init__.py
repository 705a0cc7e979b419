"""The ``youtube`` channel: a YouTube channel's comment threads, polled, answered by replies."""

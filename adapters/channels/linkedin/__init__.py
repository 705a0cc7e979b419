"""The ``linkedin`` channel: an organisation page's comments, polled, answered by replies."""

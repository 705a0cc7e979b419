"""The ``meta`` channel: Facebook Page and Instagram messages and comments, in and out."""

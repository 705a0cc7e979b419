"""The mail channel: IMAP in, SMTP out."""

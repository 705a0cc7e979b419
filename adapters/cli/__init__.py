"""The ``aiguillage`` command and its subcommands."""

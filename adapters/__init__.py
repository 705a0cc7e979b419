"""Everything that touches the world: configuration, CLI, daemon, journals, channel adapters."""

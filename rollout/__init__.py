"""The shell around the `waves` core: reading the repo, the CLI."""

__version__ = "0.1.0"

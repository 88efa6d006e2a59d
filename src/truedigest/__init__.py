"""truedigest: which image digest is real? Evidence straight from the registry."""

__version__ = "0.1.0"

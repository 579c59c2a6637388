"""Patron: self-hosted retail customer management."""

__version__ = "0.1.0"

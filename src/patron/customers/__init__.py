"""Customer profiles and their identities (docs/architecture.md)."""

# Sealing hooks every session's flush; importing the domain installs it.
from patron.customers import sealing as _sealing  # noqa: F401

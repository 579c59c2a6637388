"""The providers' stand-ins of the engagement tests, for the consent checks at send time."""

from tests.engagement.conftest import configure, servers

__all__ = ["configure", "servers"]

"""The providers' stand-ins of the engagement tests, for sends stopped by a withdrawal."""

from tests.engagement.conftest import configure, servers

__all__ = ["configure", "servers"]

"""The providers' stand-ins of the engagement tests, for campaigns' deliveries."""

from tests.engagement.conftest import configure, servers

__all__ = ["configure", "servers"]

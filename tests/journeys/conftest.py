"""The providers' stand-ins of the engagement tests, for journeys' deliveries."""

from tests.engagement.conftest import configure, servers

__all__ = ["configure", "servers"]

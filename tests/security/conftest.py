"""The host tests' fixtures: a private network namespace per test (``netns``)."""

from tests.net.conftest import netns

__all__ = ["netns"]

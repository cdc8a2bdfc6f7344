"""Warning category of attractorlab (turned into errors in the test suite)."""

__all__ = ["AttractorlabWarning"]


class AttractorlabWarning(UserWarning):
    """A warning raised by attractorlab code."""

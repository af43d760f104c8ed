"""One exception type for user-facing failures.

The CLI prints its message on one line and exits non-zero, so every message must name the file, record or
option at fault.
"""


class PolyretError(Exception):
    """A problem with the user's input or environment, explained in one line."""

"""The one error a stack raises when it cannot start."""


class StackStartError(Exception):
    """A component could not start; the message names it and carries the tail of its log."""

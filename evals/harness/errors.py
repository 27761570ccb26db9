"""Errors that mean the user's input is wrong, not the harness."""


class InputError(Exception):
    """Bad input from a file, a setting or the command line.

    The message is one line: where the problem is (file:line, case or option),
    what is wrong, and what to do about it.
    """

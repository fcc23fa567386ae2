"""The one exception type for mistakes a user can fix: the CLI prints its message on one line and exits 2."""


class UserError(Exception):
    """Bad input (missing file, wrong shape, unknown name): the message says what is wrong and what to do."""

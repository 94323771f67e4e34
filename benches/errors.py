"""User-facing errors: the CLI prints one line and exits with status 2."""


class UserError(Exception):
    """A mistake in the user's input (unknown name, malformed matrix, missing data files)."""

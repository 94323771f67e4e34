"""User-facing errors: the CLI prints one line and exits with status 2."""


class UserError(Exception):
    """A mistake in the user's input (unknown name, malformed matrix, missing data files)."""


class RecordWriteError(Exception):
    """A record could not be written (disk full, folder removed): the run stops, one line, exit
    1; no record is half-written and the cell runs again on ``--resume``."""


RECORD_WRITE_FAILED = 75
"""Exit status of a cell process whose record could not be written (``EX_TEMPFAIL``)."""

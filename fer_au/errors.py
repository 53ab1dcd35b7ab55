"""fer_au's exceptions: one base, ``FerAuError``, so a caller can catch everything fer_au
reports on purpose in one clause.  Each also keeps the built-in type it always had
(ValueError for bad input, RuntimeError for a missing or broken model), so older
``except ValueError`` code still works.  Messages name Python parameters; the command
line prints them as one line and exits with code 2 (``fer_au.cli.main``)."""


class FerAuError(Exception):
    """Base of every error fer_au raises on purpose."""

"""prefstat's own exception types (bad input is always a plain ``ValueError``)."""


class StudyError(RuntimeError):
    """A cell of a simulation study failed; the message names the cell and the cause."""

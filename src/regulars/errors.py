"""Errors a user can cause and fix; the CLI prints them without a traceback."""


class RegularsError(Exception):
    """Base class of every error caused by user input or configuration."""


class InputFileError(RegularsError):
    """A whole input file is unusable (missing, wrong format, required column absent)."""

    def __init__(self, path: object, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class ModelFitError(RegularsError):
    """The data cannot support a model fit (for example, nobody made a repeat purchase)."""

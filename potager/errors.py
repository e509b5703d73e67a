"""The root of every error Potager raises on purpose.

Each package derives its own exception types from `PotagerError`, so a caller (the
command line, the web app, a student's script) can catch all of them in one place and
show the message, which always says what was wrong, where, and what would be valid.
"""


class PotagerError(Exception):
    """Base class of all errors raised by Potager itself."""


class SettingsError(PotagerError):
    """The settings file or a `POTAGER_*` variable is invalid."""

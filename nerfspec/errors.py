"""Errors a user can fix: the CLI prints them as one line and exits with code 2."""


class NerfspecError(Exception):
    """Bad input (dataset, config, run directory, scene file).

    The message must name the file or key and the problem, in one line, because the CLI
    prints exactly ``error: <message>`` and nothing else.
    """


class DatasetError(NerfspecError):
    """A malformed or unreadable dataset."""


class ConfigError(NerfspecError):
    """An unknown key, a wrong type or an impossible value in a config."""

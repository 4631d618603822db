"""Errors a user can fix: the CLI prints them as one line and exits with code 2.

Exit codes of ``nerfspec``: 0 done; 2 a ``NerfspecError`` (bad dataset, config or run
directory, an unreadable checkpoint, an output that cannot be written, a run that kept
diverging); 130 stopped by SIGINT (Ctrl-C) and 143 by SIGTERM, both after saving a
checkpoint that ``nerfspec train --resume RUN_DIR`` continues from.
"""


class NerfspecError(Exception):
    """Bad input (dataset, config, run directory, scene file).

    The message must name the file or key and the problem, in one line, because the CLI
    prints exactly ``error: <message>`` and nothing else.
    """


class DatasetError(NerfspecError):
    """A malformed or unreadable dataset."""


class ConfigError(NerfspecError):
    """An unknown key, a wrong type or an impossible value in a config."""


class CheckpointError(NerfspecError):
    """A truncated or corrupt checkpoint, or one that does not match the configured field."""


class OutputError(NerfspecError):
    """An output (checkpoint, config, run directory) could not be written: disk full, permissions.

    Checkpoints are written atomically, so the previous one is still intact."""


class DivergedError(NerfspecError):
    """Training kept producing non-finite losses or gradients, even after restoring the last
    good checkpoint and lowering the learning rate ``train.max_restores`` times."""

"""Error classes of the engine: each message says what is wrong and, where it helps, what to do."""


class PestoError(Exception):
    """Base class for every error the engine raises on purpose (bad parameters, files, checkpoints)."""


class ParameterError(PestoError, ValueError):
    """A parameter value is out of range or of the wrong kind."""


class CheckpointError(PestoError):
    """A checkpoint file is missing, corrupt, foreign, or would run code when loaded."""


class AudioError(PestoError):
    """An audio file or signal cannot be analysed (unreadable, empty, NaN/Inf samples...)."""


class OutputError(PestoError):
    """A result cannot be written (unwritable directory, full disk...)."""

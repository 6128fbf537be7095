"""The few exception types classicseg raises.

Every error a user can cause is a :class:`ClassicsegError`; the CLI prints its
message on one line and exits non-zero. Anything else is a bug and shows a
traceback.
"""


class ClassicsegError(Exception):
    """Base class: a problem with the user's input, config, data or environment."""

    exit_code = 2


class ConfigError(ClassicsegError):
    """A pipeline config is invalid. ``errors`` holds every problem found."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        if len(self.errors) == 1:
            msg = self.errors[0]
        else:
            msg = f"{len(self.errors)} config errors: " + "; ".join(self.errors)
        super().__init__(msg)


class SourceError(ClassicsegError):
    """An input (video, image folder, camera, stream) cannot be read."""

    exit_code = 3


class SinkError(ClassicsegError):
    """An output cannot be written."""

    exit_code = 4


class EvalError(ClassicsegError):
    """Predictions and ground truth do not fit together."""

    exit_code = 5


class ResultsError(ClassicsegError):
    """Results on disk cannot be reported (none found, unreadable, or from different inputs)."""

    exit_code = 8


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM, SIGHUP; SIGINT is Ctrl-C): handled like Ctrl-C,
    so a run finishes what it wrote. The CLI raises it from its signal handler.

    Attributes
    ----------
    signum : int
        The signal; the CLI exits with ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM).
    note : str
        Set by the run that was stopped: what it kept.
    """

    def __init__(self, signum: int = 2, name: str = "SIGINT") -> None:
        super().__init__(name)
        self.signum, self.signal_name = signum, name
        self.note = ""

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

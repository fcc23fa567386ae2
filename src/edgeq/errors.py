"""edgeq's one vocabulary of errors, and the exit codes the CLI maps them to (in `edgeq.cli.main`, one place).

    EdgeqError                       anything edgeq raises on purpose
      UserError          exit 2      bad input a user can fix: the message says what is wrong and what to do
        ConfigError      exit 2      a bad value in a config (also a ValueError, so library callers may catch that)
      CheckFailed        exit 1      a check the user asked for failed (an unreachable --min-sqnr); nothing written
      InternalError      exit 3      a bug or an unexpected failure inside edgeq; the message names where

Exit 1 also comes back as a return code when a command wrote its results and a requested check on them failed
(gate, --strict).
Any other exception reaching the CLI is reported as an internal error (exit 3), never as a traceback.
"""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3

REPORT_URL = "https://github.com/edgeq/edgeq/issues"


class EdgeqError(Exception):
    """Base of every error edgeq raises on purpose; callers can catch this one type."""

    exit_code = EXIT_INTERNAL_ERROR


class UserError(EdgeqError):
    """Bad input (missing file, wrong shape, unknown name): the message says what is wrong and what to do."""

    exit_code = EXIT_USER_ERROR


class ConfigError(UserError, ValueError):
    """A bad value in a configuration (a dataclass field, a spec file, an option)."""


class CheckFailed(EdgeqError):
    """A check the user asked for failed before anything was written (a quality target that cannot be met)."""

    exit_code = EXIT_CHECK_FAILED


class InternalError(EdgeqError):
    """Something inside edgeq failed that bad input does not explain; `where` names the node, pass or phase."""

    exit_code = EXIT_INTERNAL_ERROR

    def __init__(self, where: str, message: str):
        super().__init__(f"internal error in {where}: {message}")
        self.where = where

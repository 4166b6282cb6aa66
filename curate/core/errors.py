"""User errors: raised anywhere, printed by the CLI as one clear line (never a traceback)."""


class UserError(Exception):
    """Something the user can fix: a bad recipe key, a malformed input line, a missing file.

    The message must say *where* (file, line, key path) and *what to change*.
    """

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base

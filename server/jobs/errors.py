"""The one exception a job raises to end in `status: "error"` with a user-facing message."""


class JobError(Exception):
    @property
    def message(self) -> str:
        return str(self)

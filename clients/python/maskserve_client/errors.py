"""Exceptions raised by the maskserve client."""

from typing import Optional


class MaskserveError(Exception):
    """A failed call: the gRPC code name (e.g. ``"NOT_FOUND"``) and message.

    Attributes:
        code: canonical gRPC status code name, e.g. ``"INVALID_ARGUMENT"``.
        message: the server's message; for INVALID_ARGUMENT it names the
            offending field (``"inputs[3].text: empty"``).
        rpc: the RPC that failed (``"Predict"``), when known.
    """

    def __init__(self, code: str, message: str, rpc: Optional[str] = None):
        self.code = code
        self.message = message
        self.rpc = rpc
        prefix = f"{rpc} failed: " if rpc else ""
        super().__init__(f"{prefix}{code}: {message}")


class JobFailedError(MaskserveError):
    """A training job that ended FAILED or CANCELLED (raised by ``wait``).

    ``code`` is the job's final state name; ``job`` the final TrainingJob.
    """

    def __init__(self, job):
        self.job = job
        super().__init__(job.state, job.error or "(no reason given)", rpc=f"job {job.job_id}")

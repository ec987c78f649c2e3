"""Python client of maskserve, the multi-tenant personalization server.

A thin, typed wrapper over the gRPC stubs generated at build time from
proto/maskserve/v1/maskserve.proto (package ``maskserve_pb``)::

    from maskserve_client import Client, Example

    with Client("localhost:50051", api_key="secret") as client:
        job_id = client.train("alice", [Example("great film", "pos"),
                                        Example("dull plot", "neg")],
                              method="HEAD_ONLY", epochs=5)
        job = client.wait(job_id)
        result = client.predict("alice", ["what a film"], top_k=2)
        print(result.version, result[0].label, result[0].top)

Every failed call raises :class:`MaskserveError` with the gRPC code name
(``"NOT_FOUND"``) and the server's message.
"""

from maskserve_client.client import Client, TlsConfig
from maskserve_client.errors import JobFailedError, MaskserveError
from maskserve_client.types import (
    BackboneInfo,
    BankInfo,
    EvalMetrics,
    Example,
    LabelScore,
    Limits,
    ModelInfo,
    Prediction,
    PredictResult,
    Profile,
    ProfileSize,
    SharedHeadInfo,
    TrainingJob,
)

__all__ = [
    "BackboneInfo",
    "BankInfo",
    "Client",
    "EvalMetrics",
    "Example",
    "JobFailedError",
    "LabelScore",
    "Limits",
    "MaskserveError",
    "ModelInfo",
    "Prediction",
    "PredictResult",
    "Profile",
    "ProfileSize",
    "SharedHeadInfo",
    "TlsConfig",
    "TrainingJob",
]

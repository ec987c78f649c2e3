"""Python client of maskserve, the multi-tenant personalization server.

A thin, typed wrapper over the gRPC stubs generated at build time from
proto/ (services ``maskserve.v1.Maskserve``, ``maskserve.v1.Admin`` and
``grpc.health.v1.Health``)::

    from maskserve_client import Client, Example

    with Client("localhost:50051", api_key="secret") as client:
        job_id = client.train("alice", [Example("great film", "pos"),
                                        Example("dull plot", "neg")],
                              method="HEAD_ONLY", epochs=5)
        job = client.wait(job_id)
        result = client.predict("alice", ["what a film"], top_k=2)
        print(result.version, result[0].label, result[0].top)

Operators back the server's whole store up with an admin key (or on a
server in development mode)::

    with Client("localhost:50051", api_key="admin-secret") as admin:
        backup = admin.backup("/var/backups/maskserve/2024-05-01")
        print(backup.dir, backup.files, backup.bytes, backup.profiles)

Every failed call raises :class:`MaskserveError` with the gRPC code name
(``"NOT_FOUND"``) and the server's message.

Every profile-scoped call also sends the profile id as
``x-maskserve-profile`` metadata (:data:`PROFILE_ROUTING_HEADER`), which a
proxy in front of several replicas can route on; other calls send none.
"""

from maskserve_client.client import PROFILE_ROUTING_HEADER, Client, TlsConfig
from maskserve_client.errors import JobFailedError, MaskserveError
from maskserve_client.types import (
    BackboneInfo,
    Backup,
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
    "Backup",
    "BankInfo",
    "Client",
    "EvalMetrics",
    "Example",
    "JobFailedError",
    "LabelScore",
    "Limits",
    "MaskserveError",
    "ModelInfo",
    "PROFILE_ROUTING_HEADER",
    "Prediction",
    "PredictResult",
    "Profile",
    "ProfileSize",
    "SharedHeadInfo",
    "TlsConfig",
    "TrainingJob",
]

"""Imports the generated stubs, with a helpful message when they are missing."""

try:
    from maskserve_pb.grpc.health.v1 import health_pb2, health_pb2_grpc
    from maskserve_pb.maskserve.v1 import maskserve_pb2, maskserve_pb2_grpc
except ImportError as error:  # pragma: no cover - environment problem
    raise ImportError(
        "maskserve_client needs the generated stubs (package maskserve_pb): build the "
        "'maskserve_python_stubs' CMake target and put <build>/clients/python/gen on "
        "PYTHONPATH"
    ) from error

__all__ = ["health_pb2", "health_pb2_grpc", "maskserve_pb2", "maskserve_pb2_grpc"]

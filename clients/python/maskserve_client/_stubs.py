"""The generated stubs, from maskserve_client._pb (made when the package is built).

setup.py generates every proto of the project's proto/ tree into the
maskserve_client._pb package (maskserve_client._pb.maskserve.v1.maskserve_pb2,
maskserve_client._pb.maskserve.v1.admin_pb2,
maskserve_client._pb.grpc.health.v1.health_pb2, ...): under a package of its
own, so that the generated grpc/health/v1 modules cannot shadow the real
`grpc` package.
"""

try:
    from maskserve_client._pb.grpc.health.v1 import health_pb2, health_pb2_grpc
    from maskserve_client._pb.maskserve.v1 import admin_pb2, admin_pb2_grpc
    from maskserve_client._pb.maskserve.v1 import maskserve_pb2, maskserve_pb2_grpc
except ImportError as _pb_error:  # a source checkout: nothing generated in it
    raise ImportError(
        "maskserve_client has no generated stubs (maskserve_client._pb): install "
        "the package (pip install ./clients/python), which generates them, rather "
        "than importing it from the source tree"
    ) from _pb_error

__all__ = ["admin_pb2", "admin_pb2_grpc", "health_pb2", "health_pb2_grpc", "maskserve_pb2",
           "maskserve_pb2_grpc"]

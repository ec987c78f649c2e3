"""The generated stubs, from maskserve_client._pb (made when the package is built).

setup.py generates every proto of the project's proto/ tree into the
maskserve_client._pb package (maskserve_client._pb.maskserve.v1.maskserve_pb2,
maskserve_client._pb.grpc.health.v1.health_pb2, ...): under a package of its
own, so that the generated grpc/health/v1 modules cannot shadow the real
`grpc` package.
"""

try:
    from maskserve_client._pb.grpc.health.v1 import health_pb2, health_pb2_grpc
    from maskserve_client._pb.maskserve.v1 import maskserve_pb2, maskserve_pb2_grpc
except ImportError as _pb_error:  # a source checkout: nothing generated in it
    # Transitional, for tests/crash/server_crash_test.py only (it runs the
    # source tree with --stubs_path=<build>/clients/python/gen, the CMake
    # target maskserve_python_stubs); goes once that test runs an installed
    # copy (clients/python/run_installed.sh). An installed package never
    # gets here: it carries maskserve_client._pb.
    try:
        from maskserve_pb.grpc.health.v1 import health_pb2, health_pb2_grpc
        from maskserve_pb.maskserve.v1 import maskserve_pb2, maskserve_pb2_grpc
    except ImportError:
        raise ImportError(
            "maskserve_client has no generated stubs (maskserve_client._pb): install "
            "the package (pip install ./clients/python), which generates them, rather "
            "than importing it from the source tree"
        ) from _pb_error

__all__ = ["health_pb2", "health_pb2_grpc", "maskserve_pb2", "maskserve_pb2_grpc"]

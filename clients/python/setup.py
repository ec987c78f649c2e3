"""Build hook of the maskserve Python client (metadata is in pyproject.toml).

Generates the protobuf/gRPC stubs of every .proto file in the project's
proto/ tree into the package, as maskserve_client/_pb/<path>_pb2.py and
_pb2_grpc.py, while the package is built (build_py), so an installed copy
needs nothing on PYTHONPATH. The protos are staged under
maskserve_client/_pb/ (their imports of each other prefixed to match) so
that the generated modules import each other as maskserve_client._pb.*:
the generated grpc/health/v1 package then cannot shadow the real `grpc`.

Generator, as clients/python/CMakeLists.txt chooses it:
1. protoc and grpc_python_plugin on PATH (Debian: protobuf-compiler and
   protobuf-compiler-grpc), or named by $MASKSERVE_PROTOC and
   $MASKSERVE_GRPC_PYTHON_PLUGIN;
2. else `python -m grpc_tools.protoc` (PyPI grpcio-tools) when its bundled
   protoc is 3.15 or newer (proto3 `optional`; Debian 12's python3-grpc-tools
   bundles 3.5.1, too old);
3. else the build fails, saying what to install.
$MASKSERVE_PY_GENERATOR=protoc or =grpc_tools forces one of them.

The proto/ tree: $MASKSERVE_PROTO_DIR, else ./proto (an sdist carries a copy,
see SdistWithProtos), else ../../proto (this directory in the source tree).

The runtime floors (grpcio, protobuf) follow the generator: code from a
protoc of the 3.20/3.21 series (Debian 12) runs on protobuf >= 3.20; code
from a newer grpc_tools checks at import that protobuf and grpcio are at
least the versions it was made with, so those become the floors.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "maskserve_client"
PB_DIR = os.path.join(PACKAGE, "_pb")  # as a path, relative to a build root
MIN_PROTOC = (3, 15)  # proto3 `optional` without --experimental_allow_proto3_optional
# Floors when the generator sets none of its own (Debian 12: 1.51.1, 4.21.12).
DEFAULT_REQUIRES = ["grpcio>=1.51", "protobuf>=3.20"]


def find_proto_dir():
    """The proto/ tree, or None."""
    env = os.environ.get("MASKSERVE_PROTO_DIR")
    candidates = [env] if env else [os.path.join(HERE, "proto"),
                                    os.path.join(HERE, os.pardir, os.pardir, "proto")]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "maskserve", "v1",
                                                     "maskserve.proto")):
            return os.path.realpath(candidate)
    return None


def list_protos(proto_dir):
    """Every .proto under proto_dir, as sorted '/'-separated relative paths."""
    found = []
    for root, dirs, files in os.walk(proto_dir, followlinks=True):
        dirs.sort()
        for name in files:
            if name.endswith(".proto"):
                rel = os.path.relpath(os.path.join(root, name), proto_dir)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def parse_version(text):
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def protoc_version(command):
    try:
        result = subprocess.run(command + ["--version"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True,
                                check=False)
    except OSError:
        return None
    return parse_version(result.stdout) if result.returncode == 0 else None


def protobuf_floor(version):
    """The oldest protobuf runtime that loads code from protoc `version`."""
    if version[0] == 3:  # libprotoc 3.x: python protobuf 3.x (4.21 for 3.21)
        return "protobuf>=3.20" if version[1] >= 20 else f"protobuf>=3.{version[1]}"
    # libprotoc 22.x on: python 4.22..4.25, 5.26..5.29, 6.30..6.33, 7.34..
    major = 4 if version[0] <= 25 else 5 if version[0] <= 29 else 6 if version[0] <= 33 else 7
    return f"protobuf>={major}.{version[0]}.{version[1] if len(version) > 1 else 0}"


class Generator:
    """How to run protoc with the grpc_python plugin, and what the output needs."""

    def __init__(self, command, version, description, requires):
        self.command, self.version = command, version
        self.description, self.requires = description, requires


def system_generator():
    protoc = os.environ.get("MASKSERVE_PROTOC") or shutil.which("protoc")
    plugin = (os.environ.get("MASKSERVE_GRPC_PYTHON_PLUGIN")
              or shutil.which("grpc_python_plugin"))
    if not protoc or not plugin:
        return None, "protoc and grpc_python_plugin not both on PATH"
    version = protoc_version([protoc])
    if version is None:
        return None, f"{protoc} --version failed"
    if version < MIN_PROTOC:
        return None, f"{protoc} is {'.'.join(map(str, version))}, older than 3.15"
    return Generator([protoc, f"--plugin=protoc-gen-grpc_python={plugin}"], version,
                     f"{protoc} {'.'.join(map(str, version))} + {plugin}",
                     ["grpcio>=1.51", protobuf_floor(version)]), None


def grpc_tools_generator():
    command = [sys.executable, "-m", "grpc_tools.protoc"]
    version = protoc_version(command)
    if version is None:
        return None, f"no grpc_tools (PyPI grpcio-tools) for {sys.executable}"
    if version < MIN_PROTOC:
        return None, (f"grpc_tools.protoc is {'.'.join(map(str, version))}, older than "
                      "3.15 (Debian 12's python3-grpc-tools)")
    requires = ["grpcio>=1.51", protobuf_floor(version)]
    try:  # the code it makes checks at import for at least its own versions
        from importlib import metadata
        tools_version = metadata.version("grpcio-tools")
        pins = [r.split(";")[0].replace(" ", "") for r in metadata.requires("grpcio-tools") or []]
        protobuf_pin = [r for r in pins if re.match(r"protobuf\b", r)]
        requires = [f"grpcio>={tools_version}"] + (protobuf_pin or requires[1:])
    except Exception:  # pragma: no cover - unusual installs keep the protoc floor
        pass
    return Generator(command, version,
                     f"grpc_tools.protoc {'.'.join(map(str, version))} ({sys.executable})",
                     requires), None


def choose_generator():
    """(Generator, None) or (None, why none fits)."""
    forced = os.environ.get("MASKSERVE_PY_GENERATOR", "")
    choices = {"protoc": [system_generator], "grpc_tools": [grpc_tools_generator],
               "": [system_generator, grpc_tools_generator]}
    if forced not in choices:
        return None, f"MASKSERVE_PY_GENERATOR={forced!r}: use 'protoc' or 'grpc_tools'"
    reasons = []
    for candidate in choices[forced]:
        generator, why = candidate()
        if generator:
            return generator, None
        reasons.append(why)
    return None, "; ".join(reasons)


def stage_protos(proto_dir, protos, stage):
    """Copies the protos to stage/maskserve_client/_pb/, with their imports of
    each other prefixed, so protoc names the outputs maskserve_client._pb.*."""
    prefix = PB_DIR.replace(os.sep, "/") + "/"
    local = set(protos)

    def prefixed(match):
        path = match.group(2)
        return match.group(1) + (prefix + path if path in local else path) + match.group(3)

    staged = []
    for rel in protos:
        with open(os.path.join(proto_dir, rel), encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r'^(\s*import\s+(?:public\s+|weak\s+)?")([^"]+)("\s*;)', prefixed, text,
                      flags=re.MULTILINE)
        dest = os.path.join(stage, prefix + rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
        staged.append(prefix + rel)
    return staged


def generate_stubs(out_root, announce):
    """Writes maskserve_client/_pb/ (stubs of every proto) under out_root."""
    out_root = os.path.abspath(out_root)
    proto_dir = find_proto_dir()
    if proto_dir is None:
        raise SystemExit(
            "maskserve_client: no proto/ tree with maskserve/v1/maskserve.proto (looked in "
            f"{os.path.join(HERE, 'proto')} and {os.path.join(HERE, '..', '..', 'proto')}; "
            "set MASKSERVE_PROTO_DIR)")
    generator, why = choose_generator()
    if generator is None:
        raise SystemExit(
            "maskserve_client: cannot generate the gRPC stubs: " + why + ". Install "
            "protoc and grpc_python_plugin (Debian: apt-get install protobuf-compiler "
            "protobuf-compiler-grpc) or PyPI grpcio-tools (pip install grpcio-tools), "
            "then build again")
    protos = list_protos(proto_dir)
    announce(f"maskserve_client: generating stubs of {len(protos)} protos from {proto_dir} "
             f"with {generator.description}")
    out_pb = os.path.join(out_root, PB_DIR)
    shutil.rmtree(out_pb, ignore_errors=True)  # no stale modules of removed protos
    os.makedirs(out_pb)
    stage = tempfile.mkdtemp(prefix="maskserve_protos_")
    try:
        staged = stage_protos(proto_dir, protos, stage)
        result = subprocess.run(
            generator.command + [f"-I{stage}", f"--python_out={out_root}",
                                 f"--grpc_python_out={out_root}"] + staged,
            cwd=stage, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, check=False)
        if result.returncode != 0:
            raise SystemExit("maskserve_client: stub generation failed:\n"
                             + result.stdout.replace(PB_DIR.replace(os.sep, "/") + "/",
                                                     proto_dir + "/"))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for root, _dirs, files in os.walk(out_pb):
        if "__init__.py" not in files:
            with open(os.path.join(root, "__init__.py"), "w", encoding="utf-8") as f:
                if root == out_pb:
                    f.write(f'"""Generated at build time from {len(protos)} protos '
                            '(setup.py); do not edit."""\n\n'
                            f"GENERATOR = {generator.description!r}\n"
                            f"PROTOS = {tuple(protos)!r}\n")
    return [os.path.join(root, name) for root, _dirs, files in os.walk(out_pb)
            for name in files]


class BuildPyWithStubs(build_py):
    """build_py, plus the generated stubs: into the build tree, or into the
    source tree for an editable install (pip install -e)."""

    def run(self):
        super().run()
        target = HERE if self.editable_mode else self.build_lib
        if not self.dry_run:
            self._generated = generate_stubs(target, self.announce_always)

    @staticmethod
    def announce_always(message):
        # self.announce() levels differ between setuptools versions.
        print(message, file=sys.stderr, flush=True)

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + list(getattr(self, "_generated", []))


class SdistWithProtos(sdist):
    """sdist, carrying a copy of the proto/ tree as ./proto."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        proto_dir = find_proto_dir()
        if proto_dir is None:
            raise SystemExit("maskserve_client: no proto/ tree to put in the sdist")
        dest = os.path.join(base_dir, "proto")
        shutil.rmtree(dest, ignore_errors=True)
        for rel in list_protos(proto_dir):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copyfile(os.path.join(proto_dir, rel), os.path.join(dest, rel))


_generator, _ = choose_generator()
setup(
    packages=[PACKAGE],  # maskserve_client._pb: generated, added by build_py
    install_requires=_generator.requires if _generator else DEFAULT_REQUIRES,
    cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos},
)

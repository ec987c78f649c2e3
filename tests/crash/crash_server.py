"""The real maskserve binary as the crash test runs it: started on a free
loopback port over one data directory (RocksDB), killed with SIGKILL, and
started again on the same directory."""

import hashlib
import os
import signal
import subprocess
import time
from typing import Dict, List, Optional


def write_api_keys(path: str, keys: Dict[str, str]) -> None:
    """Writes `--api_keys_file`: `<tenant> <sha256 hex of key>` per line."""
    with open(path, "w") as f:
        for tenant, key in sorted(keys.items()):
            f.write(f"{tenant} {hashlib.sha256(key.encode()).hexdigest()}\n")


class ServerFailed(RuntimeError):
    """The server did not come up (it exited, or wrote no port)."""


class CrashServer:
    """One data directory; at most one live server process on it."""

    def __init__(self, binary: str, work_dir: str, api_keys_file: str,
                 extra_args: Optional[List[str]] = None):
        self.binary = binary
        self.data_dir = os.path.join(work_dir, "data")
        self.port_file = os.path.join(work_dir, "port")
        self.log_path = os.path.join(work_dir, "server.log")
        self.api_keys_file = api_keys_file
        self.extra_args = list(extra_args or [])
        self.process: Optional[subprocess.Popen] = None
        self.address = ""
        self.starts = 0

    def start(self, timeout: float = 60.0) -> str:
        """Starts the server and returns its address once the port is bound."""
        assert self.process is None, "a server is already running"
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        env = dict(os.environ, MASKSERVE_DEVICE="cpu", MASKSERVE_MODEL_DIR="builtin")
        for name in ("MASKSERVE_ADDRESS", "MASKSERVE_API_KEY"):
            env.pop(name, None)
        args = [self.binary, "--address=127.0.0.1:0", f"--port_file={self.port_file}",
                f"--data_dir={self.data_dir}", "--metrics_address=",
                f"--api_keys_file={self.api_keys_file}", *self.extra_args]
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise ServerFailed(f"maskserve exited with {code} at start {self.starts}:\n"
                                   f"{self.log_tail()}")
            try:
                with open(self.port_file) as f:
                    port = int(f.read().strip())
                self.address = f"127.0.0.1:{port}"
                return self.address
            except (OSError, ValueError):
                time.sleep(0.02)
        self.kill()
        raise ServerFailed(f"maskserve wrote no port in {timeout:.0f} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (no drain, no flush) and wait for the process to be gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful drain); returns the exit code (SIGKILL after timeout)."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def log_tail(self, chars: int = 4000) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

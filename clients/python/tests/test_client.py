"""Tests of the Python client against real processes on loopback.

Two servers:
- the real ``maskserve`` binary (env MASKSERVE_BINARY): health and info are
  checked now; every other test skips itself while the server answers
  UNIMPLEMENTED, and runs as soon as the RPC lands;
- ``fake_maskserve`` (env FAKE_MASKSERVE_BINARY), the clients' in-memory fake,
  which implements the whole API, so every client method is exercised today.

A third real server serves a shared head made with ``maskserve_build_bank``
(env MASKSERVE_BUILD_BANK_BINARY).

They run against an installed copy of the package (InstalledCopyTest checks
that it is one): through CTest (python_client_test), or by hand, from outside
clients/python:
  MASKSERVE_BINARY=build/server/maskserve \
  FAKE_MASKSERVE_BINARY=build/clients/testing/fake_maskserve \
  MASKSERVE_BUILD_BANK_BINARY=build/core/tools/maskserve_build_bank \
  clients/python/run_installed.sh build/clients/python/test_venv \
    python -m unittest discover -v -s clients/python/tests
or, with the package installed (pip install ./clients/python), just
  python -m unittest discover -v -s clients/python/tests
"""

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest

import maskserve_client
from maskserve_client import (
    Client,
    Example,
    JobFailedError,
    MaskserveError,
    TlsConfig,
)

MASKSERVE_BINARY = os.environ.get("MASKSERVE_BINARY", "")
FAKE_MASKSERVE_BINARY = os.environ.get("FAKE_MASKSERVE_BINARY", "")
BUILD_BANK_BINARY = os.environ.get("MASKSERVE_BUILD_BANK_BINARY", "")

POSITIVE = ["a wonderful film", "great acting and a moving story", "i loved every minute",
            "brilliant and funny", "a joy to watch", "superb music and direction",
            "the best movie this year", "charming and warm", "an excellent cast",
            "beautifully shot", "a delightful surprise", "truly great fun",
            "smart witty and fresh", "a masterpiece", "heartfelt and honest",
            "fantastic from start to end", "a real treat", "gripping and powerful",
            "lovely performances", "simply wonderful"]
NEGATIVE = ["a terrible film", "bad acting and a dull story", "i hated every minute",
            "boring and flat", "a chore to watch", "awful music and direction",
            "the worst movie this year", "cold and lifeless", "a weak cast",
            "ugly and badly shot", "a tedious mess", "truly awful",
            "dumb stale and tired", "a disaster", "hollow and fake",
            "dreadful from start to end", "a waste of time", "slow and pointless",
            "wooden performances", "simply bad"]
EXAMPLES = ([Example(t, "pos") for t in POSITIVE] + [Example(t, "neg") for t in NEGATIVE])


def skip_if_unimplemented(test):
    """Skips the test while the server answers UNIMPLEMENTED for an RPC."""

    @functools.wraps(test)
    def wrapper(self, *args, **kwargs):
        try:
            return test(self, *args, **kwargs)
        except MaskserveError as error:
            if error.code == "UNIMPLEMENTED":
                self.skipTest(f"server does not implement it yet: {error}")
            raise

    return wrapper


class ServerProcess:
    """Starts a server binary on a free loopback port and stops it."""

    def __init__(self, binary, extra_args=(), ready_timeout=120.0):
        if not binary or not os.path.exists(binary):
            raise unittest.SkipTest(f"server binary not found: {binary!r}")
        self.dir = tempfile.mkdtemp(prefix="maskserve_pytest_")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "server.log")
        args = [binary, "--address=127.0.0.1:0", f"--port_file={port_file}", *extra_args]
        env = dict(os.environ)
        for name in ("MASKSERVE_ADDRESS", "MASKSERVE_API_KEY"):
            env.pop(name, None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + ready_timeout
        port = None
        while time.monotonic() < deadline and port is None:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{binary} exited with {self.process.returncode}: {self.log()}")
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        if port is None:
            self.stop()
            raise RuntimeError(f"{binary} did not write its port: {self.log()}")
        self.address = f"127.0.0.1:{port}"

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def real_server_args(data_dir, *extra):
    return [f"--data_dir={data_dir}", "--device=cpu", "--model_dir=builtin",
            "--metrics_address=", *extra]


class ClientContract:
    """Client behaviour every server must give; mixed into a TestCase whose
    setUpClass sets cls.server, cls.client and cls.exact_labels (whether
    predictions on training texts must equal their labels)."""

    method = "HEAD_ONLY"
    exact_labels = False

    def train_and_wait(self, profile_id, **kwargs):
        job_id = self.client.train(profile_id, EXAMPLES, labels=["neg", "pos"],
                                   method=self.method, epochs=3, seed=7, **kwargs)
        self.assertTrue(job_id)
        job = self.client.wait(job_id, timeout=240)
        self.assertEqual(job.state, "SUCCEEDED", job)
        return job

    def test_health_is_serving(self):
        self.assertEqual(self.client.health(), "SERVING")

    def test_info_describes_the_server(self):
        info = self.client.info()
        self.assertGreater(info.backbone.num_layers, 0)
        self.assertGreater(info.backbone.hidden_size, 0)
        self.assertGreater(info.limits.max_inputs_per_request, 0)
        self.assertTrue(info.server_version)

    @skip_if_unimplemented
    def test_train_watch_predict(self):
        job_id = self.client.train("py-sentiment", EXAMPLES, labels=["neg", "pos"],
                                   method=self.method, epochs=3, seed=7,
                                   description="python client test")
        updates = list(self.client.watch(job_id, timeout=240))
        self.assertTrue(updates)
        final = updates[-1]
        self.assertEqual(final.state, "SUCCEEDED", final)
        self.assertEqual(final.job_id, job_id)
        self.assertEqual(final.profile_id, "py-sentiment")
        self.assertEqual(final.num_examples, len(EXAMPLES))
        self.assertGreaterEqual(final.published_version, 1)
        self.assertEqual(final.hyper_parameters.get("epochs"), 3)
        self.assertTrue(all(u.state in ("QUEUED", "RUNNING", "SUCCEEDED") for u in updates))

        texts = [POSITIVE[0], NEGATIVE[0], ("premise", "hypothesis")]
        result = self.client.predict("py-sentiment", texts, top_k=2)
        self.assertEqual(result.profile_id, "py-sentiment")
        self.assertEqual(result.version, final.published_version)
        self.assertEqual(result.label_names, ["neg", "pos"])
        self.assertEqual(len(result), 3)
        for prediction in result:
            self.assertIn(prediction.label, ("neg", "pos"))
            self.assertEqual(prediction.label, result.label_names[prediction.label_index])
            self.assertAlmostEqual(sum(prediction.probabilities), 1.0, places=4)
            self.assertEqual(len(prediction.top), 2)
            self.assertEqual(prediction.top[0].label, prediction.label)
            self.assertGreaterEqual(prediction.top[0].probability, prediction.top[1].probability)
        if self.exact_labels:
            self.assertEqual(result.labels[:2], ["pos", "neg"])

        profile = self.client.get_profile("py-sentiment")
        self.assertEqual(profile.version, final.published_version)
        self.assertEqual(profile.method, self.method)
        self.assertEqual(profile.label_names, ["neg", "pos"])
        self.assertEqual(profile.training_job_id, job_id)
        self.assertEqual(profile.description, "python client test")
        self.assertGreater(profile.size.total_bytes, 0)
        self.assertIn(job_id, [j.job_id for j in self.client.list_jobs(profile_id="py-sentiment")])

    @skip_if_unimplemented
    def test_export_delete_import_round_trip(self):
        self.train_and_wait("py-export")
        before = self.client.predict("py-export", POSITIVE[:3] + NEGATIVE[:3])
        data = self.client.export_profile("py-export")
        self.assertIsInstance(data, bytes)
        self.assertTrue(data)
        deleted = self.client.delete_profile("py-export")
        self.assertEqual(deleted, before.version)
        with self.assertRaises(MaskserveError) as raised:
            self.client.get_profile("py-export")
        self.assertEqual(raised.exception.code, "NOT_FOUND")

        imported = self.client.import_profile("py-export", data)
        self.assertEqual(imported.profile_id, "py-export")
        self.assertEqual(imported.label_names, ["neg", "pos"])
        after = self.client.predict("py-export", POSITIVE[:3] + NEGATIVE[:3])
        self.assertEqual(after.labels, before.labels)
        for a, b in zip(after, before):
            for pa, pb in zip(a.probabilities, b.probabilities):
                self.assertAlmostEqual(pa, pb, places=4)

        with self.assertRaises(MaskserveError) as raised:
            self.client.import_profile("py-export", data)
        self.assertEqual(raised.exception.code, "ALREADY_EXISTS")
        overwritten = self.client.import_profile("py-export", data, overwrite=True)
        self.assertGreater(overwritten.version, imported.version)
        copy = self.client.import_profile("py-export-copy", data)
        self.assertEqual(copy.profile_id, "py-export-copy")

    @skip_if_unimplemented
    def test_list_profiles_follows_pages(self):
        for i in range(3):
            self.train_and_wait(f"py-list-{i}")
        ids = [p.profile_id for p in self.client.list_profiles(page_size=1)]
        for i in range(3):
            self.assertIn(f"py-list-{i}", ids)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(ids), len(set(ids)))

    @skip_if_unimplemented
    def test_errors_carry_code_and_field(self):
        with self.assertRaises(MaskserveError) as raised:
            self.client.get_profile("py-no-such-profile")
        self.assertEqual(raised.exception.code, "NOT_FOUND")
        self.assertIn("GetProfile failed: NOT_FOUND", str(raised.exception))

        with self.assertRaises(MaskserveError) as raised:
            self.client.predict("py-no-such-profile", ["hello"])
        self.assertEqual(raised.exception.code, "NOT_FOUND")

        with self.assertRaises(MaskserveError) as raised:
            self.client.train("bad id!", EXAMPLES, method=self.method)
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertIn("profile_id", raised.exception.message)

        with self.assertRaises(MaskserveError) as raised:
            self.client.train("py-bad-label", EXAMPLES, labels=["neg", "other"],
                              method=self.method)
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertIn("label", raised.exception.message)

        with self.assertRaises(MaskserveError) as raised:
            self.client.get_job("job-does-not-exist")
        self.assertIn(raised.exception.code, ("NOT_FOUND", "INVALID_ARGUMENT"))

    @skip_if_unimplemented
    def test_empty_text_is_invalid(self):
        self.train_and_wait("py-empty-text")
        with self.assertRaises(MaskserveError) as raised:
            self.client.predict("py-empty-text", ["fine", ""])
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertIn("inputs[1]", raised.exception.message)

    @skip_if_unimplemented
    def test_train_with_int8_head(self):
        job = self.train_and_wait("py-int8", head_precision="int8")
        self.assertEqual(job.hyper_parameters.get("head_precision"), "HEAD_PRECISION_INT8")
        result = self.client.predict("py-int8", [POSITIVE[0], NEGATIVE[0]])
        self.assertEqual(len(result), 2)

    @skip_if_unimplemented
    def test_unknown_shared_head_is_invalid_argument(self):
        with self.assertRaises(MaskserveError) as raised:
            self.client.train("py-no-head", EXAMPLES, method="XPEFT_HARD",
                              shared_head="no-such-head")
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertIn("shared_head: no shared head 'no-such-head'", raised.exception.message)

    @skip_if_unimplemented
    def test_cancel_finished_job_is_failed_precondition(self):
        job = self.train_and_wait("py-cancel")
        with self.assertRaises(MaskserveError) as raised:
            self.client.cancel_job(job.job_id)
        self.assertEqual(raised.exception.code, "FAILED_PRECONDITION")


class InstalledCopyTest(unittest.TestCase):
    """The package under test is an installed copy, stubs included, in the
    venv that clients/python/run_installed.sh made (MASKSERVE_CLIENT_VENV),
    not the source tree nor a build folder on PYTHONPATH."""

    def test_imports_from_the_venv_site_packages(self):
        venv = os.environ.get("MASKSERVE_CLIENT_VENV", "")
        if not venv:
            self.skipTest("not run by run_installed.sh (no MASKSERVE_CLIENT_VENV)")
        self.assertEqual(os.path.realpath(sys.prefix), os.path.realpath(venv))
        site = os.path.realpath(sysconfig.get_paths()["purelib"])
        self.assertTrue(site.startswith(os.path.realpath(venv) + os.sep), site)
        from maskserve_client import _pb, _stubs

        for module in (maskserve_client, _pb, _stubs.maskserve_pb2, _stubs.health_pb2_grpc,
                       _stubs.admin_pb2_grpc):
            self.assertTrue(os.path.realpath(module.__file__).startswith(site + os.sep),
                            f"{module.__name__} imports from {module.__file__}, not {site}")
        self.assertFalse(os.environ.get("PYTHONPATH"))

    def test_stubs_are_the_packaged_ones(self):
        from maskserve_client import _stubs

        self.assertEqual(_stubs.maskserve_pb2.__name__,
                         "maskserve_client._pb.maskserve.v1.maskserve_pb2")
        self.assertEqual(_stubs.health_pb2.__name__,
                         "maskserve_client._pb.grpc.health.v1.health_pb2")
        self.assertEqual(_stubs.admin_pb2.__name__,
                         "maskserve_client._pb.maskserve.v1.admin_pb2")
        import grpc  # the real package, not the generated grpc/health/v1

        self.assertTrue(hasattr(grpc, "insecure_channel"))


class LocalValidationTest(unittest.TestCase):
    """Argument checks that need no server."""

    def test_rejects_unknown_hyper_parameters_and_methods(self):
        with Client("127.0.0.1:1") as client:
            with self.assertRaises(ValueError):
                client.train("p", EXAMPLES, head_precision="int4")
            with self.assertRaises(TypeError):
                client.train("p", EXAMPLES, epochz=3)
            with self.assertRaises(ValueError):
                client.train("p", EXAMPLES, method="LORA")
            with self.assertRaises(TypeError):
                client.train("p", [["text", "label"]])

    def test_unreachable_server_is_unavailable(self):
        with Client("127.0.0.1:1", timeout=2) as client:
            with self.assertRaises(MaskserveError) as raised:
                client.info()
        self.assertIn(raised.exception.code, ("UNAVAILABLE", "DEADLINE_EXCEEDED"))

    def test_tls_config_needs_cert_and_key_together(self):
        with self.assertRaises(ValueError):
            Client("127.0.0.1:1", tls=TlsConfig(cert_file="c.pem"))


class FakeServerTest(ClientContract, unittest.TestCase):
    """The whole client against the in-memory fake server."""

    exact_labels = True

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(FAKE_MASKSERVE_BINARY, ["--step_delay_ms=1"])
        cls.client = Client(cls.server.address)
        cls.client.wait_until_serving()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_examples_as_tuples_and_dicts_and_label_inference(self):
        job_id = self.client.train(
            "py-shapes",
            [("good", "pos"), ("q", "a", "pos"), {"text": "bad", "label": "neg"}],
            method="head-only", epochs=1)
        job = self.client.wait(job_id, timeout=60)
        self.assertEqual(self.client.get_profile("py-shapes").label_names, ["pos", "neg"])
        self.assertEqual(job.total_epochs, 1)

    def test_failed_job_raises_job_failed_error(self):
        job_id = self.client.train("py-fails", [("FAIL", "a"), ("x", "b")], method="HEAD_ONLY")
        with self.assertRaises(JobFailedError) as raised:
            self.client.wait(job_id, timeout=60)
        self.assertEqual(raised.exception.code, "FAILED")
        self.assertEqual(raised.exception.job.state, "FAILED")
        job = self.client.wait(job_id, timeout=60, raise_on_failure=False)
        self.assertEqual(job.state, "FAILED")
        self.assertIn(job_id, [j.job_id for j in self.client.list_jobs(states=["FAILED"])])

    def test_shared_head_gives_its_labels_and_no_head_bytes(self):
        heads = self.client.info().shared_heads
        self.assertEqual([(h.name, h.label_names) for h in heads], [("sentiment", ["neg", "pos"])])
        # The examples list "pos" first; the head's label order wins.
        job = self.client.wait(self.client.train("py-warm", EXAMPLES, method="XPEFT_HARD",
                                                 shared_head="sentiment", epochs=1))
        self.assertEqual(job.shared_head, "sentiment")
        profile = self.client.get_profile("py-warm")
        self.assertEqual(profile.shared_head, "sentiment")
        self.assertEqual(profile.label_names, ["neg", "pos"])
        self.assertEqual(profile.size.head_bytes, 0)

    def test_api_keys_are_sent_as_bearer_tokens(self):
        secured = ServerProcess(FAKE_MASKSERVE_BINARY, ["--api_keys=alpha,beta"])
        try:
            with Client(secured.address) as anonymous:
                with self.assertRaises(MaskserveError) as raised:
                    anonymous.info()
                self.assertEqual(raised.exception.code, "UNAUTHENTICATED")
            with Client(secured.address, api_key="alpha") as alpha, \
                    Client(secured.address, api_key="beta") as beta:
                alpha.wait(alpha.train("mine", [("a", "x"), ("b", "y")], method="HEAD_ONLY"))
                self.assertEqual([p.profile_id for p in alpha.list_profiles()], ["mine"])
                self.assertEqual(list(beta.list_profiles()), [])
                with self.assertRaises(MaskserveError) as raised:
                    beta.get_profile("mine")
                self.assertEqual(raised.exception.code, "NOT_FOUND")
        finally:
            secured.stop()


class FakeServerRoutingTest(unittest.TestCase):
    """Every call sends ``x-maskserve-profile`` exactly when it is about one
    profile: the fake, run with --require_routing_header, fails profile-scoped
    calls without it (or with another profile's) and other calls with it."""

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(FAKE_MASKSERVE_BINARY,
                                   ["--step_delay_ms=1", "--require_routing_header"])
        cls.client = Client(cls.server.address)
        cls.client.wait_until_serving()  # health: no header

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_the_fake_refuses_misrouted_calls(self):
        import grpc
        from maskserve_client._stubs import maskserve_pb2 as pb

        self.assertEqual(maskserve_client.PROFILE_ROUTING_HEADER, "x-maskserve-profile")
        stub = self.client._stub
        request = pb.GetProfileRequest(profile_id="py-route-none")
        for metadata in (None, (("x-maskserve-profile", "someone-else"),)):
            with self.assertRaises(grpc.RpcError) as raised:
                stub.GetProfile(request, timeout=10, metadata=metadata)
            self.assertEqual(raised.exception.code().name, "FAILED_PRECONDITION")
            self.assertIn("x-maskserve-profile", raised.exception.details())
        with self.assertRaises(grpc.RpcError) as raised:
            stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10,
                              metadata=(("x-maskserve-profile", "py-route"),))
        self.assertEqual(raised.exception.code().name, "FAILED_PRECONDITION")
        self.assertIn("x-maskserve-profile", raised.exception.details())

    def test_every_call_is_routed_as_it_should_be(self):
        client = self.client
        job_id = client.train("py-route", EXAMPLES, method="HEAD_ONLY", epochs=1)
        job = client.wait(job_id, timeout=60)  # WatchTrainingJob: no header
        self.assertEqual(job.state, "SUCCEEDED")
        self.assertEqual(client.get_job(job_id).state, "SUCCEEDED")
        result = client.predict("py-route", [POSITIVE[0], NEGATIVE[0]])
        self.assertEqual(result.labels, ["pos", "neg"])
        self.assertEqual(client.get_profile("py-route").training_job_id, job_id)
        data = client.export_profile("py-route")
        copy = client.import_profile("py-route-copy", data)
        self.assertEqual(copy.profile_id, "py-route-copy")
        self.assertEqual(client.delete_profile("py-route-copy"), copy.version)
        self.assertEqual([j.job_id for j in client.list_jobs(profile_id="py-route")], [job_id])
        self.assertIn(job_id, [j.job_id for j in client.list_jobs()])
        self.assertIn("py-route", [p.profile_id for p in client.list_profiles()])
        self.assertTrue(client.info().server_version)
        self.assertEqual(client.health(), "SERVING")
        with self.assertRaises(MaskserveError) as raised:
            client.cancel_job(job_id)  # refused for the job's state, not its routing
        self.assertEqual(raised.exception.code, "FAILED_PRECONDITION")
        self.assertNotIn("x-maskserve-profile", raised.exception.message)
        # An invalid id is sent without the header and gets its own error.
        with self.assertRaises(MaskserveError) as raised:
            client.get_profile("bad id!")
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertIn("profile_id", raised.exception.message)

    def test_the_header_goes_with_the_api_key(self):
        secured = ServerProcess(FAKE_MASKSERVE_BINARY,
                                ["--api_keys=alpha", "--require_routing_header"])
        try:
            with Client(secured.address, api_key="alpha") as alpha:
                alpha.wait(alpha.train("py-keyed", [("a", "x"), ("b", "y")], method="HEAD_ONLY"))
                self.assertEqual(alpha.get_profile("py-keyed").profile_id, "py-keyed")
                self.assertEqual([p.profile_id for p in alpha.list_profiles()], ["py-keyed"])
        finally:
            secured.stop()


class RealServerTest(ClientContract, unittest.TestCase):
    """The client against the real maskserve binary (built-in tiny BERT),
    training XPEFT_HARD profiles (the product's main method)."""

    method = "XPEFT_HARD"

    @classmethod
    def setUpClass(cls):
        data_dir = tempfile.mkdtemp(prefix="maskserve_pytest_data_")
        cls.data_dir = data_dir
        cls.server = ServerProcess(MASKSERVE_BINARY, real_server_args(data_dir))
        cls.client = Client(cls.server.address, timeout=30)
        cls.client.wait_until_serving(timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def test_int8_head_bytes_are_reported(self):
        self.train_and_wait("py-int8-size", head_precision="int8")
        info = self.client.info()
        d, layers = info.backbone.hidden_size, info.backbone.num_layers
        bottleneck = d // 16  # the server's default random bank
        # int8 weight [2, d], fp16 scale and bias per label, fp16 LayerNorm [2, L, b].
        self.assertEqual(self.client.get_profile("py-int8-size").size.head_bytes,
                         2 * d + 2 * 2 + 2 * 2 + 2 * 2 * layers * bottleneck)

    def test_job_reports_its_attempts_and_base_version(self):
        first = self.train_and_wait("py-versions")
        self.assertEqual((first.attempts, first.cancel_requested, first.base_version), (1, False, 0))
        second = self.train_and_wait("py-versions")
        self.assertEqual(second.base_version, 1)
        self.assertEqual(second.published_version, 2)

    def test_backup_writes_a_copy_of_the_store(self):
        # A development-mode server (no --api_keys_file) takes admin calls
        # from anyone.
        self.train_and_wait("py-backup")
        parent = tempfile.mkdtemp(prefix="maskserve_pytest_backup_")
        try:
            target = os.path.join(parent, "nested", "backup")  # the parent is created
            backup = self.client.backup(target, timeout=120)
            self.assertIsInstance(backup, maskserve_client.Backup)
            self.assertTrue(os.path.isabs(backup.dir), backup.dir)
            self.assertEqual(os.path.realpath(backup.dir), os.path.realpath(target))
            self.assertTrue(os.path.isfile(os.path.join(target, "CURRENT")),
                            sorted(os.listdir(target)))
            self.assertGreater(backup.files, 0)
            self.assertGreater(backup.bytes, 0)
            self.assertGreaterEqual(backup.profiles, 1)
            self.assertGreaterEqual(backup.seconds, 0.0)

            with self.assertRaises(MaskserveError) as raised:
                self.client.backup(target, timeout=120)
            self.assertEqual(raised.exception.code, "ALREADY_EXISTS")
            self.assertEqual(raised.exception.rpc, "CreateBackup")
        finally:
            shutil.rmtree(parent, ignore_errors=True)

    def test_backup_to_a_relative_dir_is_invalid_argument(self):
        with self.assertRaises(MaskserveError) as raised:
            self.client.backup("relative/backup")
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertTrue(raised.exception.message.startswith("dir:"), raised.exception.message)
        self.assertIn("CreateBackup failed: INVALID_ARGUMENT", str(raised.exception))

    def test_info_reports_the_builtin_backbone(self):
        info = self.client.info()
        self.assertEqual(info.backbone.name, "builtin-tiny-bert")
        self.assertEqual(info.backbone.device, "cpu")
        self.assertTrue(info.banks)
        self.assertTrue(all(len(b.fingerprint) > 0 for b in info.banks))
        self.assertEqual(self.client.health("maskserve.v1.Maskserve"), "SERVING")


class RealServerSharedHeadTest(unittest.TestCase):
    """A shared head built with maskserve_build_bank and served by the real
    server (--shared_heads): profiles reuse it and store no head."""

    @classmethod
    def setUpClass(cls):
        if not BUILD_BANK_BINARY or not os.path.exists(BUILD_BANK_BINARY):
            raise unittest.SkipTest(f"maskserve_build_bank not found: {BUILD_BANK_BINARY!r}")
        cls.dir = tempfile.mkdtemp(prefix="maskserve_pytest_heads_")
        corpus = os.path.join(cls.dir, "corpus.jsonl")
        with open(corpus, "w") as f:
            for profile in ("ann", "bob"):
                for example in EXAMPLES:
                    f.write(json.dumps({"profile": profile, "text": example.text,
                                        "label": example.label}) + "\n")
        heads = os.path.join(cls.dir, "heads.safetensors")
        subprocess.run([BUILD_BANK_BINARY, "--model_dir=builtin", "--kind=xpeft",
                        f"--corpus={corpus}", "--device=cpu", "--num_adapters=8", "--top_k=4",
                        "--epochs=1",
                        f"--out={os.path.join(cls.dir, 'bank.safetensors')}",
                        f"--shared_heads_out={heads}", "--head_name=reviews"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.server = ServerProcess(MASKSERVE_BINARY, real_server_args(
            os.path.join(cls.dir, "data"), f"--shared_heads={heads}"))
        cls.client = Client(cls.server.address, timeout=30)
        cls.client.wait_until_serving(timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_profile_reuses_the_shared_head(self):
        heads = self.client.info().shared_heads
        self.assertEqual([h.name for h in heads], ["reviews"])
        self.assertEqual(heads[0].label_names, ["neg", "pos"])  # the corpus's, sorted
        self.assertEqual(len(heads[0].fingerprint), 64)

        job = self.client.wait(self.client.train("py-reviews", EXAMPLES, method="XPEFT_HARD",
                                                 shared_head="reviews", epochs=2), timeout=240)
        self.assertEqual(job.shared_head, "reviews")
        profile = self.client.get_profile("py-reviews")
        self.assertEqual(profile.shared_head, "reviews")
        self.assertEqual(profile.label_names, ["neg", "pos"])
        self.assertEqual(profile.size.head_bytes, 0)
        result = self.client.predict("py-reviews", [POSITIVE[0], NEGATIVE[0]])
        self.assertEqual(result.label_names, ["neg", "pos"])
        self.assertTrue(all(label in ("neg", "pos") for label in result.labels))

    def test_shared_head_errors_name_the_field(self):
        with self.assertRaises(MaskserveError) as raised:
            self.client.train("py-reviews-2", EXAMPLES, labels=["pos", "neg"],
                              method="XPEFT_HARD", shared_head="reviews")
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertTrue(raised.exception.message.startswith("label_names:"),
                        raised.exception.message)
        with self.assertRaises(MaskserveError) as raised:
            self.client.train("py-reviews-3", EXAMPLES, method="HEAD_ONLY",
                              shared_head="reviews")
        self.assertEqual(raised.exception.code, "INVALID_ARGUMENT")
        self.assertTrue(raised.exception.message.startswith("shared_head:"),
                        raised.exception.message)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class RealServerSecurityTest(unittest.TestCase):
    """API keys and (m)TLS against the real server, with throwaway keys and
    certificates made at test time."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="maskserve_pytest_sec_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_api_key_is_sent_as_bearer_metadata(self):
        keys = os.path.join(self.dir, "keys")
        with open(keys, "w") as f:
            f.write(f"tenant-a {hashlib.sha256(b'key-a').hexdigest()}\n")
        server = ServerProcess(MASKSERVE_BINARY, real_server_args(
            os.path.join(self.dir, "data"), f"--api_keys_file={keys}"))
        try:
            with Client(server.address, timeout=30) as anonymous:
                anonymous.wait_until_serving(timeout=120)
                with self.assertRaises(MaskserveError) as raised:
                    anonymous.info()
                self.assertEqual(raised.exception.code, "UNAUTHENTICATED")
            with Client(server.address, api_key="wrong") as wrong:
                with self.assertRaises(MaskserveError) as raised:
                    wrong.info()
                self.assertIn(raised.exception.code, ("PERMISSION_DENIED", "UNAUTHENTICATED"))
            with Client(server.address, api_key="key-a") as client:
                self.assertTrue(client.info().server_version)
        finally:
            server.stop()

    def test_mutual_tls(self):
        if shutil.which("openssl") is None:
            self.skipTest("openssl not installed")
        d = self.dir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                 "/CN=maskserve-test-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
        for name in ("server", "client"):
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                     "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
            with open(os.path.join(d, f"{name}.ext"), "w") as f:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext",
                     "-out", f"{name}.pem", cwd=d)
        p = lambda name: os.path.join(d, name)  # noqa: E731
        server = ServerProcess(MASKSERVE_BINARY, real_server_args(
            p("data"), f"--tls_cert={p('server.pem')}", f"--tls_key={p('server.key')}",
            f"--tls_client_ca={p('ca.pem')}"))
        try:
            tls = TlsConfig(ca_file=p("ca.pem"), cert_file=p("client.pem"),
                            key_file=p("client.key"), server_name="localhost")
            with Client(server.address, tls=tls, timeout=30) as client:
                client.wait_until_serving(timeout=120)
                self.assertTrue(client.info().server_version)
            # Without a client certificate the handshake is refused.
            with Client(server.address, tls=TlsConfig(ca_file=p("ca.pem"),
                                                      server_name="localhost"),
                        timeout=5) as no_cert:
                with self.assertRaises(MaskserveError) as raised:
                    no_cert.info()
                self.assertEqual(raised.exception.code, "UNAVAILABLE")
            # Plaintext against a TLS port fails too.
            with Client(server.address, timeout=5) as plaintext:
                with self.assertRaises(MaskserveError):
                    plaintext.info()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()

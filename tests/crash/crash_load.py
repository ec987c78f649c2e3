"""The mixed load of the crash test: per tenant, a few threads, each the only
writer of its own profiles (so that the model in crash_model.py can order its
acknowledged writes), calling Predict, GetProfile, TrainProfile,
GetTrainingJob, CancelTrainingJob, ExportProfile, ImportProfile and
DeleteProfile at random (seeded) until the server is killed under them."""

import random
import threading
from typing import Callable, List, Optional, Sequence, Tuple

from maskserve_client import Client, Example, MaskserveError
from maskserve_client._stubs import maskserve_pb2 as pb

from crash_model import CrashModel

TEXTS = ["a wonderful film", "boring and dull", "the plot is a tedious mess",
         "i loved every minute of it", "a waste of two hours", "great acting",
         "an awful mess", "what a great story"]
WORDS = ["good", "bad", "film", "story", "great", "dull", "moving", "awful", "plot", "fun",
         "acting", "music", "boring", "lovely", "mess", "joy"]
# Failures that say nothing about the request: the server is going away or busy.
TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "RESOURCE_EXHAUSTED")
# Outcome unknown: the write may or may not have happened.
UNCERTAIN = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "UNKNOWN", "INTERNAL")


class ExportPool:
    """Exported profiles (bytes and the version they came from) to import."""

    def __init__(self, capacity: int = 64):
        self.lock = threading.Lock()
        self.items: List[Tuple[bytes, Tuple[str, str, int]]] = []
        self.capacity = capacity

    def add(self, rng: random.Random, data: bytes, source: Tuple[str, str, int]) -> None:
        with self.lock:
            if len(self.items) < self.capacity:
                self.items.append((data, source))
            else:
                self.items[rng.randrange(self.capacity)] = (data, source)

    def pick(self, rng: random.Random):
        with self.lock:
            return rng.choice(self.items) if self.items else None


def export_with_version(client: Client, profile_id: str, timeout: Optional[float] = None):
    """ExportProfile's data *and* version (the client's export_profile returns
    only the data; the version says which content the bytes hold)."""
    # pylint: disable=protected-access
    response = client._call("ExportProfile", client._stub.ExportProfile,
                            pb.ExportProfileRequest(profile_id=profile_id), timeout)
    return response.data, response.version


class LoadContext:
    """What one incarnation's load threads share."""

    def __init__(self, model: CrashModel, pool: ExportPool, methods: Sequence[str]):
        self.model = model
        self.pool = pool
        self.methods = list(methods)
        self.stop = threading.Event()      # threads finish their call and exit
        self.killing = threading.Event()   # set just before SIGKILL: errors are expected
        self.workers: List[threading.Thread] = []
        # Exports from a server with another bank (crash_test's foreign
        # server): importing them must fail cleanly or serve without harm.
        self.foreign: List[Tuple[str, bytes]] = []
        # When set, the kill comes right after the first acknowledgement of
        # this kind ("cancel", "cancel_running", "import", "delete", "train",
        # "publish"): the narrow windows a timer rarely hits.
        self.trigger: Optional[str] = None
        self.triggered = threading.Event()

    def acknowledged(self, kind: str) -> None:
        if self.trigger == kind:
            self.triggered.set()

    def call(self, rpc: str, fn: Callable, expected: Sequence[str] = ()):
        """Runs fn(); returns (result, None) or (None, error code). A code that
        is neither transient nor expected is a violation while the server is
        not being killed."""
        try:
            return fn(), None
        except MaskserveError as error:
            self.model.count(f"err_{rpc}_{error.code}")
            if error.code not in TRANSIENT and error.code not in expected \
                    and not self.killing.is_set():
                self.model.violate("unexpected_error", f"{rpc}: {error.code}: {error.message}",
                                   key=(rpc, error.code, error.message[:80]))
            return None, error.code


class LoadWorker(threading.Thread):
    """One thread of one tenant, the only writer of `profiles`."""

    OPS = (("predict", 30), ("get", 10), ("train", 12), ("poll", 14), ("cancel", 6),
           ("export", 8), ("import", 9), ("delete", 5))

    def __init__(self, ctx: LoadContext, client: Client, tenant: str, profiles: List[str],
                 rng: random.Random):
        super().__init__(daemon=True, name=f"load-{tenant}-{profiles[0]}")
        self.ctx, self.client, self.tenant, self.profiles, self.rng = (
            ctx, client, tenant, profiles, rng)
        self.model = ctx.model
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        names = [name for name, _ in self.OPS]
        weights = [weight for _, weight in self.OPS]
        try:
            while not self.ctx.stop.is_set():
                op = self.rng.choices(names, weights)[0]
                getattr(self, "op_" + op)(self.rng.choice(self.profiles))
        except BaseException as error:  # a bug in the test itself: report it
            self.error = error

    def my_unfinished_jobs(self, profile: Optional[str] = None):
        return [j for j in self.model.unfinished_jobs(self.tenant)
                if j.profile in self.profiles and (profile is None or j.profile == profile)]

    # Operations.

    def op_predict(self, profile: str) -> None:
        texts = self.rng.sample(TEXTS, self.rng.randint(1, 3))
        before = self.model.state(self.tenant, profile)
        result, code = self.ctx.call("Predict", lambda: self.client.predict(profile, texts,
                                                                            top_k=2),
                                     expected=("NOT_FOUND",))
        if result is not None:
            if result.profile_id != profile:
                self.model.violate("wrong_profile_served", f"Predict({self.tenant}/{profile}) "
                                   f"answered for '{result.profile_id}'")
            self.model.record_prediction(self.tenant, profile, result, texts, "Predict")
            if before.deleted and before.uncertain_delete < 0 and result.version <= before.hi:
                self.model.violate("deleted_profile_served",
                                   f"Predict({self.tenant}/{profile}) served version "
                                   f"{result.version} after {before.hi_source}",
                                   key=(self.tenant, profile, result.version, before.hi))
        elif code == "NOT_FOUND":
            self.model.observe_not_found(self.tenant, profile, "Predict")

    def op_get(self, profile: str) -> None:
        result, code = self.ctx.call("GetProfile", lambda: self.client.get_profile(profile),
                                     expected=("NOT_FOUND",))
        if result is not None:
            self.model.observe_profile(self.tenant, result, "GetProfile")
        elif code == "NOT_FOUND":
            self.model.observe_not_found(self.tenant, profile, "GetProfile")

    def op_train(self, profile: str) -> None:
        # One job of this thread at a time keeps the (single) trainer's queue
        # short, so that jobs run, publish and get cancelled while RUNNING.
        if self.my_unfinished_jobs():
            return self.op_poll(profile)
        rng = self.rng
        labels = ["neg", "pos"] if rng.random() < 0.7 else ["neg", "pos", "mid"]
        n = rng.choice([16, 24, 48, 96, 160])
        examples = [Example(" ".join(rng.choices(WORDS, k=rng.randint(2, 8))),
                            labels[i % len(labels)]) for i in range(n)]
        state = self.model.state(self.tenant, profile)
        expected = None
        if rng.random() < 0.2 and state.uncertain_delete < 0:
            expected = state.hi if not state.deleted and state.hi else 0
        hyper = {"epochs": rng.randint(1, 2), "batch_size": 8}
        if rng.random() < 0.25:
            hyper["head_precision"] = "int8"
        method = rng.choice(self.ctx.methods)
        job_id, code = self.ctx.call(
            "TrainProfile",
            lambda: self.client.train(profile, examples, labels=labels, method=method,
                                      seed=rng.randrange(1 << 31), expected_version=expected,
                                      description=f"crash test {method}", **hyper),
            expected=("FAILED_PRECONDITION",))
        if job_id is not None:
            self.model.accept_job(self.tenant, profile, job_id, expected)
            self.ctx.acknowledged("train")
        elif code in UNCERTAIN:
            self.model.count("uncertain_writes")

    def op_poll(self, profile: str) -> None:
        for job in self.my_unfinished_jobs():
            result, code = self.ctx.call("GetTrainingJob",
                                         lambda: self.client.get_job(job.job_id),
                                         expected=("NOT_FOUND",))
            if result is not None:
                self.model.observe_job(self.tenant, result, "GetTrainingJob")
                if result.state == "SUCCEEDED":
                    self.ctx.acknowledged("publish")
            elif code == "NOT_FOUND":
                self.model.job_lost(self.tenant, job.job_id, "GetTrainingJob")
            else:
                return

    def op_cancel(self, profile: str) -> None:
        # Jobs with expected_version may legitimately end FAILED; they are not
        # cancelled, so that any non-CANCELLED end of a cancelled job is a bug.
        jobs = [j for j in self.my_unfinished_jobs()
                if j.expected_version is None and not j.cancel_acked]
        if not jobs:
            return self.op_predict(profile)
        job = self.rng.choice(jobs)
        # Prefer RUNNING jobs: cancelling them is the interesting case (the
        # cancel is only requested and must survive a kill).
        current, code = self.ctx.call("GetTrainingJob", lambda: self.client.get_job(job.job_id),
                                      expected=("NOT_FOUND",))
        if current is None:
            if code == "NOT_FOUND":
                self.model.job_lost(self.tenant, job.job_id, "GetTrainingJob")
            return
        self.model.observe_job(self.tenant, current, "GetTrainingJob")
        if current.done or self.rng.random() > (0.9 if current.state == "RUNNING" else 0.1):
            return
        result, code = self.ctx.call("CancelTrainingJob",
                                     lambda: self.client.cancel_job(job.job_id),
                                     expected=("FAILED_PRECONDITION", "NOT_FOUND"))
        if result is not None:
            self.model.ack_cancel(self.tenant, result)
            self.ctx.acknowledged("cancel")
            if result.state == "RUNNING":
                self.ctx.acknowledged("cancel_running")
        elif code == "NOT_FOUND":
            self.model.job_lost(self.tenant, job.job_id, "CancelTrainingJob")

    def op_export(self, profile: str) -> None:
        result, code = self.ctx.call("ExportProfile",
                                     lambda: export_with_version(self.client, profile),
                                     expected=("NOT_FOUND",))
        if result is not None:
            data, version = result
            self.model.observe_version(self.tenant, profile, version, "ExportProfile")
            self.ctx.pool.add(self.rng, data, (self.tenant, profile, version))
        elif code == "NOT_FOUND":
            self.model.observe_not_found(self.tenant, profile, "ExportProfile")

    def op_import(self, profile: str) -> None:
        if self.ctx.foreign and self.rng.random() < 0.1:
            return self.import_foreign(profile)
        item = self.ctx.pool.pick(self.rng)
        if item is None:
            return self.op_export(profile)
        data, source = item
        overwrite = self.rng.random() < 0.75
        result, code = self.ctx.call(
            "ImportProfile", lambda: self.client.import_profile(profile, data, overwrite),
            # FAILED_PRECONDITION: the profile has a job in training.
            expected=("FAILED_PRECONDITION",) + (() if overwrite else ("ALREADY_EXISTS",)))
        if result is not None:
            if result.profile_id != profile:
                self.model.violate("wrong_profile_imported", f"ImportProfile({self.tenant}/"
                                   f"{profile}) answered '{result.profile_id}'")
            self.model.ack_import(self.tenant, result, source)
            self.ctx.acknowledged("import")
        elif code in UNCERTAIN:
            self.model.count("uncertain_writes")

    def import_foreign(self, profile: str) -> None:
        """A profile exported by a server with another bank: refused
        (FAILED_PRECONDITION, or INVALID_ARGUMENT for bytes it cannot use), or
        accepted and then served like any other (without breaking the
        batches it shares with other profiles and tenants)."""
        method, data = self.rng.choice(self.ctx.foreign)
        result, code = self.ctx.call(
            "ImportProfile(foreign)", lambda: self.client.import_profile(profile, data, True),
            expected=("FAILED_PRECONDITION", "INVALID_ARGUMENT"))
        self.model.count(f"foreign_import_{method}_{'OK' if result is not None else code}")
        if result is not None:
            self.model.ack_import(self.tenant, result, None)
        elif code in UNCERTAIN:
            self.model.count("uncertain_writes")

    def op_delete(self, profile: str) -> None:
        state = self.model.state(self.tenant, profile)
        expected = None
        if self.model.require_live(self.tenant, profile) and self.rng.random() < 0.3:
            expected = state.hi
        deleted, code = self.ctx.call(
            "DeleteProfile", lambda: self.client.delete_profile(profile, expected),
            expected=("NOT_FOUND", "FAILED_PRECONDITION"))
        if deleted is not None:
            self.model.ack_delete(self.tenant, profile, deleted)
            self.ctx.acknowledged("delete")
        elif code == "NOT_FOUND":
            self.model.observe_not_found(self.tenant, profile, "DeleteProfile")
        elif code != "FAILED_PRECONDITION":
            self.model.uncertain_delete(self.tenant, profile)

#!/usr/bin/python3
"""End-to-end crash test of the real maskserve server.

Starts the `maskserve` binary (built-in tiny backbone, CPU, a RocksDB store in
a temporary directory, three tenants with API keys), drives it from several
threads per tenant with Predict, TrainProfile (small jobs of every available
method), GetTrainingJob, CancelTrainingJob, ExportProfile, ImportProfile
(of profiles exported earlier, also across tenants), DeleteProfile and
GetProfile, SIGKILLs it at random (seeded) moments, restarts it on the same
data directory and checks after every restart (and on every answer) that:

- every acknowledged write is there and decodes: a profile whose last
  acknowledged write was an ImportProfile or a published training version is
  present at that version or newer (NOT_FOUND only after an acknowledged
  delete, or a delete whose answer was lost), and ExportProfile, a re-import
  of the exported bytes and Predict on both work, the re-import predicting
  exactly like the original;
- no profile is torn or goes back in version: the highest version known per
  profile (acknowledged, or shown by GetProfile/ExportProfile) never goes
  down; a version's method, labels and training_job_id never change; a
  deleted version never comes back (versions continue after a tombstone);
- no accepted job is lost: every job id TrainProfile returned is found by
  GetTrainingJob and ListTrainingJobs after every restart;
- no job is published twice or over a newer version: each SUCCEEDED job's
  published_version is unique per profile, the profile version that names a
  job is the one the job reports, a job with expected_version publishes
  exactly expected_version + 1, and a final job's state never changes;
- a cancelled job never runs again: once CancelTrainingJob was acknowledged
  (for a QUEUED job, or a RUNNING one whose cancel is then only requested)
  the job must end CANCELLED, never SUCCEEDED or FAILED nor publish a
  version, even across restarts;
- every prediction matches the version it reports: probabilities per
  (tenant, profile, version, text) are the same within 1e-4 whenever that
  version (or an import of its exported bytes) answers again, also across
  restarts;
- no RPC fails with a code the API does not give for that request (INTERNAL,
  DATA_LOSS, ...) while the server is not being killed, and after every
  restart the checks' own calls all succeed.

Prints one JSON line (`CRASH_TEST_RESULT {...}`) with the counts and a short
table, and exits 1 on any violation (2 when the test itself could not run).

It runs against an installed copy of the Python client (maskserve_client),
as CTest's server_crash_test and scripts/soak_server.sh run it: from outside
clients/python,

    clients/python/run_installed.sh build/tests/crash_venv \
        python tests/crash/server_crash_test.py --server=build/server/maskserve \
        --kills=20 --seed=1

(or with any python that has the package installed: pip install ./clients/python).
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from typing import Dict, List


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", required=True, help="the maskserve binary")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs before the final check")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (default: $MASKSERVE_CRASH_SEED, else random)")
    p.add_argument("--tenants", type=int, default=3)
    p.add_argument("--workers_per_tenant", type=int, default=2)
    p.add_argument("--profiles_per_worker", type=int, default=2)
    p.add_argument("--min_load_seconds", type=float, default=0.3)
    p.add_argument("--max_load_seconds", type=float, default=3.0)
    p.add_argument("--early_kill_fraction", type=float, default=0.1,
                   help="share of kills within 0.5 s of start, before the restart check")
    p.add_argument("--roundtrip_fraction", type=float, default=0.5,
                   help="share of profiles re-imported (decode check) after each restart")
    p.add_argument("--work_dir", default="", help="keep data and server log here")
    p.add_argument("--server_arg", action="append", default=[], help="extra server flag")
    p.add_argument("--max_violations_shown", type=int, default=40)
    p.add_argument("--self_test_rollback", action="store_true",
                   help="checks the checker: before the 6th start, put back a copy of the "
                        "data directory taken at the 3rd (lost writes); the run must FAIL")
    return p.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
# The driver's own modules (crash_load, crash_model, crash_server): this
# directory is not on sys.path under PYTHONSAFEPATH=1 (run_installed.sh).
# maskserve_client is the installed package.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from maskserve_client import Client, MaskserveError, Profile  # noqa: E402
from maskserve_client._stubs import maskserve_pb2 as pb  # noqa: E402

from crash_load import TEXTS, ExportPool, LoadContext, LoadWorker, export_with_version  # noqa: E402
from crash_model import CrashModel  # noqa: E402
from crash_server import CrashServer, ServerFailed, write_api_keys  # noqa: E402

# What ends a round: a timer (None), or the first acknowledgement of a kind
# (then SIGKILL within 30 ms; the timer still bounds the round).
TRIGGERS = [None, "cancel_running", "cancel", "import", "delete", "train", "publish"]
TRIGGER_WEIGHTS = [45, 20, 5, 10, 5, 10, 5]
SCRATCH = "crash-scratch"   # per tenant: where the restart check re-imports exports
CHECK_TIMEOUT = 30.0
LOAD_TIMEOUT = 15.0


class Harness:
    def __init__(self, args: argparse.Namespace, seed: int, work_dir: str):
        self.args, self.seed, self.work_dir = args, seed, work_dir
        self.rng = random.Random(seed)
        self.tenants = [f"tenant-{chr(ord('a') + i)}" for i in range(args.tenants)]
        self.keys = {t: f"crash-key-{t}-{seed}" for t in self.tenants}
        keys_file = os.path.join(work_dir, "api_keys")
        write_api_keys(keys_file, self.keys)
        # A copy, so that every incarnation runs the same binary even if the
        # build tree is relinked meanwhile.
        binary = os.path.join(work_dir, "maskserve")
        shutil.copy2(args.server, binary)
        self.server = CrashServer(binary, work_dir, keys_file, args.server_arg)
        self.model = CrashModel()
        self.pool = ExportPool()
        # Profile ids: the same ids in every tenant (isolation), plus one id
        # only this tenant has (a listing of another tenant must not show it).
        self.owned: Dict[str, List[List[str]]] = {}
        for t in self.tenants:
            ids = [f"p{i}" for i in range(args.workers_per_tenant * args.profiles_per_worker)]
            ids[0] = f"only-{t}"
            step = args.profiles_per_worker
            self.owned[t] = [ids[i:i + step] for i in range(0, len(ids), step)]
        self.kills = 0
        self.early_kills = 0
        self.rounds: List[float] = []
        self.methods: List[str] = []
        self.foreign: List = []

    # Server lifecycle.

    def start(self) -> Dict[str, Client]:
        if self.args.self_test_rollback:
            self.inject_rollback()
        self.model.new_incarnation()
        address = self.server.start()
        return {t: Client(address, api_key=self.keys[t], timeout=LOAD_TIMEOUT)
                for t in self.tenants}

    def inject_rollback(self) -> None:
        data, snapshot = self.server.data_dir, self.server.data_dir + ".rollback"
        if self.server.starts == 2 and os.path.isdir(data):
            shutil.copytree(data, snapshot)
        elif self.server.starts == 5 and os.path.isdir(snapshot):
            print("self test: the data directory goes back to its state at start 3", flush=True)
            shutil.rmtree(data)
            shutil.copytree(snapshot, data)

    def kill(self, clients: Dict[str, Client], ctx: LoadContext = None) -> None:
        if not self.server.alive():
            self.model.violate("server_crashed", "the server exited by itself:\n"
                               + self.server.log_tail(3000))
        if ctx is not None:
            # No new calls from here on; the calls in flight meet the kill.
            ctx.killing.set()
            ctx.stop.set()
        self.server.kill()
        self.kills += 1
        if ctx is not None:
            for w in ctx.workers:
                w.join(timeout=60)
                if w.is_alive() or w.error is not None:
                    raise RuntimeError(f"load thread {w.name} failed: {w.error!r}")
        for c in clients.values():
            c.close()

    def wait_serving(self, clients: Dict[str, Client]) -> bool:
        try:
            next(iter(clients.values())).wait_until_serving(timeout=60)
            return True
        except MaskserveError as error:
            self.model.violate("server_not_serving", f"{error}\n{self.server.log_tail(3000)}")
            return False

    # The check after a restart (and at the end).

    def check_call(self, rpc: str, fn, allowed=()):
        """A call of the check: any failure but `allowed` is a violation."""
        try:
            return fn(), None
        except MaskserveError as error:
            if error.code not in allowed:
                self.model.violate("check_call_failed", f"after restart: {rpc}: {error.code}: "
                                   f"{error.message}")
            return None, error.code

    def check(self, clients: Dict[str, Client], where: str) -> None:
        self.model.count("checks")
        for tenant, client in clients.items():
            self.check_jobs(tenant, client, where)
            self.check_listing(tenant, client, where)
            for profile in [p for group in self.owned[tenant] for p in group] + [SCRATCH]:
                self.check_profile(tenant, client, profile, where)

    def check_jobs(self, tenant: str, client: Client, where: str) -> None:
        listed, _ = self.check_call("ListTrainingJobs",
                                    lambda: list(client.list_jobs(page_size=1000,
                                                                  timeout=CHECK_TIMEOUT)))
        if listed is None:
            return
        seen = set()
        for job in listed:
            seen.add(job.job_id)
            self.model.observe_job(tenant, job, f"ListTrainingJobs {where}")
        with self.model.lock:
            known = [j for j in self.model.jobs.values() if j.tenant == tenant]
        for job in known:
            if job.job_id not in seen:
                self.model.job_lost(tenant, job.job_id, f"ListTrainingJobs {where}")
            # GetTrainingJob too for the jobs not final yet, and the recent ones.
            recent = self.model.incarnation - 1
            if job.final is None or job.incarnation >= recent or \
                    (job.cancel_acked and job.cancel_incarnation >= recent):
                got, code = self.check_call("GetTrainingJob",
                                            lambda: client.get_job(job.job_id,
                                                                   timeout=CHECK_TIMEOUT),
                                            allowed=("NOT_FOUND",))
                if got is not None:
                    self.model.observe_job(tenant, got, f"GetTrainingJob {where}")
                elif code == "NOT_FOUND":
                    self.model.job_lost(tenant, job.job_id, f"GetTrainingJob {where}")

    def check_listing(self, tenant: str, client: Client, where: str) -> None:
        """ListProfiles shows only this tenant's ids, at versions that keep the
        invariants, and its total_count (a counter the store maintains in the
        same writes) equals the profiles listed. Jobs re-queued at start-up
        may create a profile between the listing and the count, so a
        mismatch is looked at again a few times before it counts."""
        request = pb.ListProfilesRequest(page_size=1000)
        for attempt in range(6):
            response, _ = self.check_call(
                "ListProfiles", lambda: client._call(  # pylint: disable=protected-access
                    "ListProfiles", client._stub.ListProfiles, request, CHECK_TIMEOUT))
            if response is None:
                return
            if response.total_count == len(response.profiles) or attempt == 5:
                break
            time.sleep(0.3)
        if response.total_count != len(response.profiles):
            self.model.violate("profile_count_wrong",
                               f"ListProfiles of {tenant} {where}: total_count "
                               f"{response.total_count}, but {len(response.profiles)} profiles "
                               f"listed ({sorted(p.profile_id for p in response.profiles)})",
                               key=(tenant, response.total_count, len(response.profiles)))
        listed = [Profile.from_proto(p) for p in response.profiles]
        mine = {p for group in self.owned[tenant] for p in group} | {SCRATCH}
        for profile in listed:
            if profile.profile_id not in mine:
                self.model.violate("tenant_leak", f"ListProfiles of {tenant} {where} lists "
                                   f"'{profile.profile_id}'", key=(tenant, profile.profile_id))
                continue
            self.model.observe_profile(tenant, profile, f"ListProfiles {where}",
                                       after_restart=True)

    def check_profile(self, tenant: str, client: Client, profile: str, where: str) -> None:
        got, code = self.check_call("GetProfile",
                                    lambda: client.get_profile(profile, timeout=CHECK_TIMEOUT),
                                    allowed=("NOT_FOUND",))
        if code == "NOT_FOUND":
            self.model.observe_not_found(tenant, profile, f"GetProfile {where}",
                                         after_restart=True)
            return
        if got is None:
            return
        self.model.observe_profile(tenant, got, f"GetProfile {where}", after_restart=True)
        exported, _ = self.check_call("ExportProfile",
                                      lambda: export_with_version(client, profile,
                                                                  CHECK_TIMEOUT))
        if exported is None:
            return
        data, version = exported
        self.model.observe_version(tenant, profile, version, f"ExportProfile {where}")
        self.pool.add(self.rng, data, (tenant, profile, version))
        result, _ = self.check_call("Predict",
                                    lambda: client.predict(profile, TEXTS, top_k=2,
                                                           timeout=CHECK_TIMEOUT))
        if result is None:
            return
        self.model.record_prediction(tenant, profile, result, TEXTS, f"Predict {where}")
        if result.version < got.version:
            self.model.violate("served_older_version",
                               f"Predict {where}: {tenant}/{profile} served version "
                               f"{result.version} while GetProfile showed {got.version}")
        if profile != SCRATCH and self.rng.random() < self.args.roundtrip_fraction:
            self.roundtrip(tenant, client, data, (tenant, profile, version), where)

    def roundtrip(self, tenant: str, client: Client, data: bytes, source, where: str) -> None:
        """The exported bytes decode: re-imported, they predict like the source."""
        imported, _ = self.check_call("ImportProfile",
                                      lambda: client.import_profile(SCRATCH, data, overwrite=True,
                                                                    timeout=CHECK_TIMEOUT))
        if imported is None:
            return
        self.model.ack_import(tenant, imported, source)
        result, _ = self.check_call("Predict",
                                    lambda: client.predict(SCRATCH, TEXTS, top_k=2,
                                                           timeout=CHECK_TIMEOUT))
        if result is not None:
            self.model.record_prediction(tenant, SCRATCH, result, TEXTS,
                                         f"Predict of a re-import {where}")

    # Load.

    def load(self, clients: Dict[str, Client], seconds: float) -> None:
        ctx = LoadContext(self.model, self.pool, self.methods)
        ctx.foreign = self.foreign
        ctx.trigger = self.rng.choices(TRIGGERS, TRIGGER_WEIGHTS)[0]
        self.model.count(f"kill_on_{ctx.trigger or 'timer'}")
        workers = []
        for tenant in self.tenants:
            for index, profiles in enumerate(self.owned[tenant]):
                rng = random.Random(f"{self.seed}/{self.model.incarnation}/{tenant}/{index}")
                workers.append(LoadWorker(ctx, clients[tenant], tenant, profiles, rng))
        ctx.workers = workers
        for w in workers:
            w.start()
        if ctx.trigger is None:
            time.sleep(seconds)
        elif ctx.triggered.wait(timeout=seconds):
            self.model.count(f"kill_on_{ctx.trigger}_fired")
            time.sleep(self.rng.uniform(0.0, 0.03))
        self.kill(clients, ctx)

    def discover_methods(self, clients: Dict[str, Client]) -> None:
        info = next(iter(clients.values())).info(timeout=CHECK_TIMEOUT)
        methods = {"HEAD_ONLY", "ADAPTER"}
        for bank in info.banks:
            methods.update(bank.methods)
        self.methods = sorted(methods)

    # The whole run.

    def make_foreign_exports(self) -> None:
        """Profiles trained by a server with another bank (bottleneck, seed),
        exported for the load to import (see LoadWorker.import_foreign)."""
        foreign_dir = os.path.join(self.work_dir, "foreign")
        os.makedirs(foreign_dir, exist_ok=True)
        # Its own (RocksDB) store: a shared --store holds the crashed server's
        # fingerprints, which another bank may not use.
        own_store = [a for a in self.args.server_arg if not a.startswith("--store=")]
        server = CrashServer(self.server.binary, foreign_dir, self.server.api_keys_file,
                             own_store + ["--bottleneck=16", "--bank_seed=99"])
        server.start()
        try:
            client = Client(server.address, api_key=self.keys[self.tenants[0]],
                            timeout=CHECK_TIMEOUT)
            client.wait_until_serving(timeout=60)
            examples = [(f"{w} {v}", "pos" if i % 2 else "neg")
                        for i, (w, v) in enumerate(zip(TEXTS, reversed(TEXTS)))]
            for method in ("ADAPTER", "XPEFT_HARD", "PROPETL_HYBRID", "HEAD_ONLY"):
                try:
                    job = client.wait(client.train(f"foreign-{method}", examples,
                                                   labels=["neg", "pos"], method=method,
                                                   epochs=1, batch_size=8), timeout=120)
                    self.foreign.append((method, client.export_profile(job.profile_id)))
                except MaskserveError as error:
                    print(f"note: no foreign {method} profile: {error}", flush=True)
            client.close()
        finally:
            server.stop()

    def run(self) -> None:
        self.make_foreign_exports()
        while self.kills < self.args.kills:
            started = time.monotonic()
            clients = self.start()
            if self.kills > 0 and self.rng.random() < self.args.early_kill_fraction:
                # Killed while starting up or re-queueing jobs, before any check.
                time.sleep(self.rng.uniform(0.0, 0.5))
                self.kill(clients)
                self.early_kills += 1
                continue
            if not self.wait_serving(clients):
                return
            if not self.methods:
                self.discover_methods(clients)
            self.check(clients, f"after restart {self.model.incarnation - 1}")
            self.load(clients, self.rng.uniform(self.args.min_load_seconds,
                                                self.args.max_load_seconds))
            self.rounds.append(time.monotonic() - started)
            self.progress()
        self.final_check()

    def progress(self) -> None:
        c = self.model.summary()
        print(f"kill {self.kills}/{self.args.kills}: round {self.rounds[-1]:.1f} s, "
              f"jobs {c.get('jobs_accepted', 0)}, imports {c.get('acked_imports', 0)}, "
              f"deletes {c.get('acked_deletes', 0)}, predictions {c.get('predictions', 0)}, "
              f"violations {c.get('violations', 0)}", flush=True)

    def final_check(self) -> None:
        """Restart, check, let every job finish, check again, stop with SIGTERM."""
        clients = self.start()
        if not self.wait_serving(clients):
            return
        self.check(clients, f"after restart {self.model.incarnation - 1} (final)")
        deadline = time.monotonic() + 120
        while self.model.unfinished_jobs() and time.monotonic() < deadline:
            for job in self.model.unfinished_jobs():
                got, code = self.check_call(
                    "GetTrainingJob", lambda: clients[job.tenant].get_job(job.job_id),
                    allowed=("NOT_FOUND",))
                if got is not None:
                    self.model.observe_job(job.tenant, got, "GetTrainingJob (final)")
                elif code == "NOT_FOUND":
                    self.model.job_lost(job.tenant, job.job_id, "GetTrainingJob (final)")
                    return
            time.sleep(0.2)
        for job in self.model.unfinished_jobs():
            self.model.violate("job_never_finished",
                               f"job {job.job_id} of {job.tenant}/{job.profile} is still "
                               f"{job.state} 120 s after the last restart"
                               + (" (its cancel was acknowledged)" if job.cancel_acked else ""))
        self.check(clients, "at the end")
        for c in clients.values():
            c.close()
        code = self.server.stop()
        if code != 0:
            self.model.violate("unclean_shutdown", f"SIGTERM: exit code {code}\n"
                               + self.server.log_tail(2000))

    # Report.

    def report(self, elapsed: float) -> Dict[str, object]:
        c = self.model.summary()
        acked = sum(c.get(k, 0) for k in ("acked_imports", "acked_deletes",
                                          "acked_publications", "jobs_accepted", "acked_cancels"))
        kinds: Dict[str, int] = {}
        for v in self.model.violations:
            kinds[v.kind] = kinds.get(v.kind, 0) + 1
        result = {
            "seed": self.seed, "kills": self.kills, "early_kills": self.early_kills,
            "restarts": self.server.starts - 1, "seconds": round(elapsed, 1),
            "acknowledged_writes": acked,
            "acked_imports": c.get("acked_imports", 0),
            "acked_deletes": c.get("acked_deletes", 0),
            "acked_publications": c.get("acked_publications", 0),
            "acked_cancels": c.get("acked_cancels", 0),
            "acked_cancels_running": c.get("acked_cancels_running", 0),
            "jobs": c.get("jobs_accepted", 0),
            "jobs_succeeded": c.get("jobs_succeeded", 0),
            "jobs_failed": c.get("jobs_failed", 0),
            "jobs_cancelled": c.get("jobs_cancelled", 0),
            "uncertain_writes": c.get("uncertain_writes", 0),
            "predictions": c.get("predictions", 0),
            "prediction_comparisons": c.get("prediction_comparisons", 0),
            "checks": c.get("checks", 0),
            "violations": len(self.model.violations),
            "violation_kinds": kinds,
        }
        print("CRASH_TEST_RESULT " + json.dumps(result, sort_keys=True))
        print()
        for name in ("kills", "early_kills", "acknowledged_writes", "acked_imports",
                     "acked_deletes", "acked_publications", "acked_cancels",
                     "acked_cancels_running", "jobs", "jobs_succeeded", "jobs_failed",
                     "jobs_cancelled", "uncertain_writes", "predictions",
                     "prediction_comparisons", "checks", "violations"):
            print(f"  {name:<24} {result[name]:>8}")
        for kind, n in sorted(kinds.items()):
            print(f"    {kind:<30} {n:>6}")
        errors = sorted((k[4:], n) for k, n in c.items() if k.startswith("err_"))
        if errors:
            print("  rpc errors: " + ", ".join(f"{k} {n}" for k, n in errors))
        triggers = sorted((k[len("kill_on_"):], n) for k, n in c.items()
                          if k.startswith("kill_on_"))
        if triggers:
            print("  kills by trigger (x_fired: right after that ack): "
                  + ", ".join(f"{k} {n}" for k, n in triggers))
        foreign = sorted((k[len("foreign_import_"):], n) for k, n in c.items()
                         if k.startswith("foreign_import_"))
        if foreign:
            print("  imports from another bank: " + ", ".join(f"{k} {n}" for k, n in foreign))
        for reason, n in sorted(self.model.failure_reasons.items()):
            print(f"  FAILED jobs ({n}): {reason}")
        if self.rounds:
            print(f"  round time: mean {sum(self.rounds) / len(self.rounds):.1f} s, "
                  f"max {max(self.rounds):.1f} s")
        shown = self.model.violations[:self.args.max_violations_shown]
        for v in shown:
            print(f"VIOLATION {v.kind} (incarnation {v.incarnation}): {v.detail}")
        if len(self.model.violations) > len(shown):
            print(f"... and {len(self.model.violations) - len(shown)} more violations")
        return result


def main() -> int:
    args = ARGS
    seed = args.seed
    if seed is None and os.environ.get("MASKSERVE_CRASH_SEED"):
        seed = int(os.environ["MASKSERVE_CRASH_SEED"])
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="maskserve_crash_")
    os.makedirs(work_dir, exist_ok=True)
    print(f"server_crash_test: seed {seed}, {args.kills} kills, work dir {work_dir} "
          f"(rerun with --seed={seed})", flush=True)
    if not os.access(args.server, os.X_OK):
        print(f"server_crash_test: cannot run the server binary {args.server!r}")
        return 2
    harness = Harness(args, seed, work_dir)
    started = time.monotonic()
    try:
        harness.run()
    except ServerFailed as error:
        harness.model.violate("server_failed_to_start", str(error))
    except Exception:  # a failure of the test itself, not a finding
        traceback.print_exc()
        print(f"server_crash_test: the test itself failed (seed {seed}, work dir {work_dir})")
        return 2
    finally:
        if harness.server.alive():
            harness.server.kill()
    result = harness.report(time.monotonic() - started)
    if result["violations"]:
        print(f"server_crash_test: FAILED with seed {seed}; data and server log kept in "
              f"{work_dir}")
        return 1
    if not args.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    print("server_crash_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

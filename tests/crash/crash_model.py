"""What the crash test knows the server must hold, and the invariants it
checks against every answer (see server_crash_test.py for the list).

Everything is keyed by tenant: the same profile id in two tenants is two
profiles. One lock guards the whole model; the load threads and the checker
call it concurrently.

Versions. Per the API (maskserve.proto `Profile.version`, and the store
contract in storage/profile_store.h) every publication of a profile makes a
new version, previous + 1, and a delete leaves a tombstone so that a
re-created profile continues after it: versions never go backwards and are
never reused. The model therefore keeps, per profile, the highest version it
knows of (`hi`) and whether the event at `hi` was an acknowledged delete:

- live at `hi`: GetProfile / ExportProfile must answer a version >= `hi`;
  NOT_FOUND only if a delete of unknown outcome (its RPC failed) is pending;
- deleted at `hi`: NOT_FOUND, or a newer version (> `hi`, e.g. a job that was
  queued before the delete and published after it).

`hi` rises with acknowledged writes (an ImportProfile response, a job seen
SUCCEEDED with its published_version, a DeleteProfile response) and with
versions the server has shown through GetProfile/ExportProfile: the store
makes those writes durable (synced) before they are visible, so a version
once read must survive a SIGKILL too. Predict is not used to raise `hi`: a
resident profile may lag a moment behind the store after a publication
(docs/architecture.md, the path of a TrainProfile, step 7).
"""

import collections
import dataclasses
import threading
from typing import Dict, List, Optional, Set, Tuple

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
PREDICTION_TOLERANCE = 1e-4


@dataclasses.dataclass
class Violation:
    kind: str
    incarnation: int
    detail: str


@dataclasses.dataclass
class ProfileState:
    hi: int = 0
    # The event at `hi` was an acknowledged delete.
    deleted: bool = False
    # How `hi` became known (for messages): "import ack", "job ..." ...
    hi_source: str = "never"
    # Incarnation of the latest delete whose outcome is unknown; -1: none.
    uncertain_delete: int = -1


@dataclasses.dataclass
class JobRecord:
    tenant: str
    profile: str
    job_id: str
    incarnation: int
    # The TrainProfile request's expected_version (None: unset).
    expected_version: Optional[int] = None
    # The highest version known of the profile when the job was accepted: a
    # publication by the job makes a newer one.
    hi_at_accept: int = 0
    cancel_acked: bool = False
    cancel_ack_state: str = ""
    cancel_incarnation: int = -1
    # Last state seen, and the final state once seen (never changes after).
    state: str = "QUEUED"
    final: Optional[str] = None
    published_version: int = 0


ProfileKey = Tuple[str, str]              # tenant, profile id
VersionKey = Tuple[str, str, int]         # tenant, profile id, version


class CrashModel:
    def __init__(self):
        self.lock = threading.RLock()
        self.incarnation = 0
        self.profiles: Dict[ProfileKey, ProfileState] = collections.defaultdict(ProfileState)
        self.jobs: Dict[Tuple[str, str], JobRecord] = {}
        # (tenant, profile, version) -> (method, label names, training_job_id):
        # what the server said that version is; must never change.
        self.version_meta: Dict[VersionKey, Tuple[str, Tuple[str, ...], Optional[str]]] = {}
        # (tenant, profile, published_version) -> job id of SUCCEEDED jobs.
        self.published_by: Dict[VersionKey, str] = {}
        # (tenant, job id) -> versions whose metadata name that job.
        self.versions_of_job: Dict[Tuple[str, str], Set[int]] = collections.defaultdict(set)
        # An imported version has the content of the exported one:
        # version key -> canonical version key (the first exported source).
        self.same_content: Dict[VersionKey, VersionKey] = {}
        # (canonical version key, text) -> probabilities.
        self.predictions: Dict[Tuple[VersionKey, str], List[float]] = {}
        self.violations: List[Violation] = []
        self._reported: Set[tuple] = set()
        self.published_jobs: Set[Tuple[str, str]] = set()
        # Why jobs FAILED (message prefix -> count), for the report.
        self.failure_reasons: Dict[str, int] = collections.Counter()
        self.counts: Dict[str, int] = collections.Counter()

    # Bookkeeping.

    def violate(self, kind: str, detail: str, key=None) -> None:
        """Records a violation; one per (kind, key) when a key is given, so
        that a fact seen again (the same bad version re-read) counts once."""
        with self.lock:
            if key is not None:
                if (kind, key) in self._reported:
                    return
                self._reported.add((kind, key))
            self.violations.append(Violation(kind, self.incarnation, detail))

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def new_incarnation(self) -> int:
        with self.lock:
            self.incarnation += 1
            return self.incarnation

    # Profiles.

    def state(self, tenant: str, profile: str) -> ProfileState:
        with self.lock:
            return dataclasses.replace(self.profiles[(tenant, profile)])

    def _raise_hi(self, st: ProfileState, version: int, source: str) -> None:
        if version > st.hi:
            st.hi, st.deleted, st.hi_source = version, False, source

    def observe_version(self, tenant: str, profile: str, version: int, where: str,
                        after_restart: bool = False) -> None:
        """GetProfile / ExportProfile / ListProfiles answered `version`."""
        with self.lock:
            st = self.profiles[(tenant, profile)]
            name = f"{tenant}/{profile}"
            if st.deleted and version == st.hi:
                self.violate("deleted_profile_resurrected",
                             f"{where}: {name} is at version {version}, which was deleted "
                             f"({st.hi_source})", key=(tenant, profile, version))
            elif version < st.hi:
                self.violate("version_went_back",
                             f"{where}: {name} at version {version}, but version {st.hi} was "
                             f"{'deleted' if st.deleted else 'there'} before ({st.hi_source})",
                             key=(tenant, profile, version, st.hi))
            self._raise_hi(st, version, f"seen by {where} in incarnation {self.incarnation}")
            if after_restart and st.uncertain_delete < self.incarnation:
                st.uncertain_delete = -1

    def observe_not_found(self, tenant: str, profile: str, where: str,
                          after_restart: bool = False) -> None:
        """A call on the profile answered NOT_FOUND."""
        with self.lock:
            st = self.profiles[(tenant, profile)]
            if st.hi > 0 and not st.deleted and st.uncertain_delete < 0:
                self.violate("profile_lost",
                             f"{where}: {tenant}/{profile} is NOT_FOUND, but version {st.hi} "
                             f"was there ({st.hi_source}) and no delete was sent since",
                             key=(tenant, profile, st.hi))
            if after_restart and 0 <= st.uncertain_delete < self.incarnation:
                # The delete of unknown outcome did happen.
                st.deleted, st.uncertain_delete = True, -1
                st.hi_source = "a delete of unknown outcome (found NOT_FOUND after restart)"

    def observe_meta(self, tenant: str, profile: str, version: int, method: str,
                     labels, training_job_id: Optional[str], where: str) -> None:
        """What a version is made of must never change (a torn profile would)."""
        key = (tenant, profile, version)
        with self.lock:
            seen = self.version_meta.get(key)
            mine = (method, tuple(labels), training_job_id)
            if seen is None:
                self.version_meta[key] = mine
            else:
                merged = tuple(m if m is not None else s for m, s in zip(mine, seen))
                if any(a is not None and b is not None and a != b for a, b in zip(mine, seen)):
                    self.violate("torn_profile",
                                 f"{where}: {tenant}/{profile} version {version} is "
                                 f"{_meta_str(mine)}, earlier {_meta_str(seen)}", key=(key, mine))
                self.version_meta[key] = merged
            if training_job_id:
                self._job_names_version(tenant, profile, training_job_id, version, where)

    def observe_profile(self, tenant: str, profile, where: str,
                        after_restart: bool = False) -> None:
        """A full `Profile` message (GetProfile, ImportProfile, ListProfiles)."""
        self.observe_version(tenant, profile.profile_id, profile.version, where, after_restart)
        self.observe_meta(tenant, profile.profile_id, profile.version, profile.method,
                          profile.label_names, profile.training_job_id, where)

    def ack_import(self, tenant: str, profile, source: Optional[VersionKey]) -> None:
        """ImportProfile returned OK with `profile` (the new version)."""
        with self.lock:
            st = self.profiles[(tenant, profile.profile_id)]
            if profile.version <= st.hi:
                self.violate("version_not_new",
                             f"ImportProfile of {tenant}/{profile.profile_id} made version "
                             f"{profile.version}, not above {st.hi} ({st.hi_source})")
            if profile.training_job_id:
                self.violate("torn_profile", f"ImportProfile of {tenant}/{profile.profile_id} "
                             f"kept training_job_id {profile.training_job_id}")
            self.counts["acked_imports"] += 1
            if profile.version > st.hi:
                self.observe_version(tenant, profile.profile_id, profile.version, "ImportProfile")
            self.observe_meta(tenant, profile.profile_id, profile.version, profile.method,
                              profile.label_names, profile.training_job_id, "ImportProfile")
            st.hi_source = f"ImportProfile ack in incarnation {self.incarnation}"
            if source is not None:
                key = (tenant, profile.profile_id, profile.version)
                self.same_content[key] = self.same_content.get(source, source)

    def ack_delete(self, tenant: str, profile: str, deleted_version: int) -> None:
        with self.lock:
            st = self.profiles[(tenant, profile)]
            self.counts["acked_deletes"] += 1
            if st.deleted and deleted_version == st.hi:
                self.violate("deleted_twice", f"DeleteProfile of {tenant}/{profile} deleted "
                             f"version {deleted_version} again ({st.hi_source})")
            elif deleted_version < st.hi:
                self.violate("version_went_back",
                             f"DeleteProfile of {tenant}/{profile} deleted version "
                             f"{deleted_version}, but version {st.hi} was there ({st.hi_source})")
            if deleted_version >= st.hi:
                st.hi, st.deleted = deleted_version, True
                st.hi_source = (f"DeleteProfile ack of version {deleted_version} in incarnation "
                                f"{self.incarnation}")

    def uncertain_delete(self, tenant: str, profile: str) -> None:
        with self.lock:
            self.profiles[(tenant, profile)].uncertain_delete = self.incarnation
            self.counts["uncertain_writes"] += 1

    def require_live(self, tenant: str, profile: str) -> bool:
        """Whether the model says the profile must exist now."""
        with self.lock:
            st = self.profiles[(tenant, profile)]
            return st.hi > 0 and not st.deleted and st.uncertain_delete < 0

    # Jobs.

    def accept_job(self, tenant: str, profile: str, job_id: str,
                   expected_version: Optional[int]) -> None:
        with self.lock:
            key = (tenant, job_id)
            if key in self.jobs:
                self.violate("job_id_reused", f"TrainProfile returned job id {job_id} twice")
                return
            self.jobs[key] = JobRecord(tenant, profile, job_id, self.incarnation, expected_version,
                                       self.profiles[(tenant, profile)].hi)
            self.counts["jobs_accepted"] += 1

    def job(self, tenant: str, job_id: str) -> Optional[JobRecord]:
        with self.lock:
            record = self.jobs.get((tenant, job_id))
            return dataclasses.replace(record) if record else None

    def unfinished_jobs(self, tenant: Optional[str] = None) -> List[JobRecord]:
        with self.lock:
            return [dataclasses.replace(j) for j in self.jobs.values()
                    if j.final is None and (tenant is None or j.tenant == tenant)]

    def ack_cancel(self, tenant: str, job) -> None:
        """CancelTrainingJob returned OK with `job` (as it stands)."""
        with self.lock:
            record = self.jobs.get((tenant, job.job_id))
            if record is None:
                return
            if not record.cancel_acked:
                record.cancel_acked = True
                record.cancel_ack_state = job.state
                record.cancel_incarnation = self.incarnation
                self.counts["acked_cancels"] += 1
                if job.state == "RUNNING":
                    self.counts["acked_cancels_running"] += 1
        self.observe_job(tenant, job, "CancelTrainingJob")

    def job_lost(self, tenant: str, job_id: str, where: str) -> None:
        record = self.job(tenant, job_id)
        if record is not None:
            self.violate("job_lost", f"{where}: job {job_id} of {tenant}/{record.profile}, "
                         f"accepted in incarnation {record.incarnation}, is NOT_FOUND",
                         key=(tenant, job_id))

    def observe_job(self, tenant: str, job, where: str) -> None:
        """Any TrainingJob the server returned (Get, List, Cancel)."""
        with self.lock:
            record = self.jobs.get((tenant, job.job_id))
            name = f"job {job.job_id} of {tenant}/{job.profile_id}"
            if job.state == "SUCCEEDED":
                self._job_published(tenant, job, where)
            if record is None:
                return  # a job whose TrainProfile answer was lost: only the above applies
            if job.profile_id != record.profile:
                self.violate("job_wrong_profile", f"{where}: {name} was accepted for "
                             f"{record.profile}", key=(tenant, job.job_id))
            if record.final is not None and (job.state != record.final or
                                             job.published_version != record.published_version):
                self.violate("final_job_changed",
                             f"{where}: {name} was {record.final} (published_version "
                             f"{record.published_version}), now {job.state} (published_version "
                             f"{job.published_version})", key=(tenant, job.job_id, job.state,
                                                   job.published_version))
            if record.cancel_acked and (job.state in ("SUCCEEDED", "FAILED")
                                        or job.published_version):
                self.violate("cancelled_job_not_cancelled",
                             f"{where}: {name} is {job.state} (published_version "
                             f"{job.published_version}) although CancelTrainingJob was "
                             f"acknowledged ({record.cancel_ack_state}) in incarnation "
                             f"{record.cancel_incarnation}" + _restart_note(record, self),
                             key=(tenant, job.job_id))
            record.state = job.state
            if job.state in FINAL_STATES and record.final is None:
                record.final, record.published_version = job.state, job.published_version
                self.counts[f"jobs_{job.state.lower()}"] += 1
                if job.state == "FAILED":
                    self.failure_reasons[job.error[:90]] += 1
                if job.state == "SUCCEEDED":
                    self._check_expected_version(record, job, where)
            if record.final == "SUCCEEDED":
                versions = self.versions_of_job.get((tenant, job.job_id), set())
                wrong = sorted(v for v in versions if v != record.published_version)
                if wrong:
                    self.violate("job_version_mismatch",
                                 f"{where}: {name} published version {record.published_version}"
                                 f", but versions {wrong} also name it", key=(tenant, job.job_id))
            elif record.final is not None and self.versions_of_job.get((tenant, job.job_id)):
                self.violate("unsuccessful_job_published",
                             f"{where}: {name} ended {record.final}, but profile versions "
                             f"{sorted(self.versions_of_job[(tenant, job.job_id)])} name it",
                             key=(tenant, job.job_id))

    def _check_expected_version(self, record: JobRecord, job, where: str) -> None:
        """A publication makes a new version: above every version there was
        when the job was accepted, and with expected_version e > 0 exactly
        e + 1 (e = 0, "must not exist", continues after a tombstone)."""
        name = f"job {job.job_id} of {record.tenant}/{record.profile}"
        if job.published_version <= record.hi_at_accept:
            self.violate("published_over_newer_version",
                         f"{where}: {name} published version {job.published_version}, but "
                         f"version {record.hi_at_accept} was known when it was accepted",
                         key=(record.tenant, job.job_id))
        elif record.expected_version and job.published_version != record.expected_version + 1:
            self.violate("published_over_newer_version",
                         f"{where}: {name} was accepted with expected_version "
                         f"{record.expected_version} but published version "
                         f"{job.published_version}", key=(record.tenant, job.job_id))

    def _job_published(self, tenant: str, job, where: str) -> None:
        if job.published_version == 0:
            self.violate("job_version_mismatch", f"{where}: job {job.job_id} is SUCCEEDED "
                         "with no published_version", key=(tenant, job.job_id))
            return
        key = (tenant, job.profile_id, job.published_version)
        other = self.published_by.setdefault(key, job.job_id)
        if other != job.job_id:
            self.violate("version_published_twice",
                         f"{where}: version {job.published_version} of {tenant}/"
                         f"{job.profile_id} was published by job {other} and by {job.job_id}",
                         key=(key, other, job.job_id))
        meta = self.version_meta.get(key)
        if meta is not None and meta[2] is not None and meta[2] != job.job_id:
            self.violate("job_version_mismatch",
                         f"{where}: job {job.job_id} published version {job.published_version}"
                         f" of {tenant}/{job.profile_id}, but that version names job "
                         f"'{meta[2]}'", key=(tenant, job.job_id, meta[2]))
        if (tenant, job.job_id) not in self.published_jobs:
            self.published_jobs.add((tenant, job.job_id))
            self.counts["acked_publications"] += 1
        st = self.profiles[(tenant, job.profile_id)]
        self._raise_hi(st, job.published_version,
                       f"job {job.job_id} SUCCEEDED in incarnation {self.incarnation}")

    def _job_names_version(self, tenant: str, profile: str, job_id: str, version: int,
                           where: str) -> None:
        versions = self.versions_of_job[(tenant, job_id)]
        versions.add(version)
        if len(versions) > 1:
            self.violate("job_published_twice",
                         f"{where}: versions {sorted(versions)} of {tenant}/{profile} all "
                         f"name training job {job_id}",
                         key=(tenant, job_id, tuple(sorted(versions))))
        key = (tenant, profile, version)
        other = self.published_by.get(key)
        if other is not None and other != job_id:
            self.violate("job_version_mismatch",
                         f"{where}: version {version} of {tenant}/{profile} names job {job_id}, "
                         f"but job {other} published it", key=(tenant, job_id, version))
        record = self.jobs.get((tenant, job_id))
        if record is None:
            return
        if record.cancel_acked:
            self.violate("cancelled_job_not_cancelled",
                         f"{where}: version {version} of {tenant}/{profile} was published by "
                         f"job {job_id}, whose CancelTrainingJob was acknowledged "
                         f"({record.cancel_ack_state}) in incarnation "
                         f"{record.cancel_incarnation}" + _restart_note(record, self),
                         key=(tenant, job_id))
        if record.final in ("FAILED", "CANCELLED"):
            self.violate("unsuccessful_job_published",
                         f"{where}: version {version} of {tenant}/{profile} names job {job_id},"
                         f" which ended {record.final}", key=(tenant, job_id))
        elif record.final == "SUCCEEDED" and record.published_version != version:
            self.violate("job_version_mismatch",
                         f"{where}: version {version} of {tenant}/{profile} names job {job_id},"
                         f" which published version {record.published_version}",
                         key=(tenant, job_id, version))

    # Predictions.

    def record_prediction(self, tenant: str, profile: str, result, texts: List[str],
                          where: str) -> None:
        """A Predict answer: each text's probabilities must equal what the same
        version (or an import of the same content) gave before."""
        key = (tenant, profile, result.version)
        with self.lock:
            self.counts["predict_calls"] += 1
            self.counts["predictions"] += len(texts)
            self.observe_meta(tenant, profile, result.version, None, result.label_names, None,
                              where)
            canonical = self.same_content.get(key, key)
            for text, prediction in zip(texts, result.predictions):
                probs = list(prediction.probabilities)
                if len(probs) != len(result.label_names) or abs(sum(probs) - 1.0) > 1e-3:
                    self.violate("bad_prediction", f"{where}: {tenant}/{profile} v"
                                 f"{result.version} '{text}': probabilities {probs} for labels "
                                 f"{result.label_names}", key=(key, text))
                    continue
                seen = self.predictions.setdefault((canonical, text), probs)
                if seen is probs:
                    continue
                self.counts["prediction_comparisons"] += 1
                diff = max((abs(a - b) for a, b in zip(seen, probs)), default=1.0)
                if len(seen) != len(probs) or diff > PREDICTION_TOLERANCE:
                    via = "" if canonical == key else f" (imported from {canonical})"
                    self.violate("prediction_mismatch",
                                 f"{where}: {tenant}/{profile} version {result.version}{via} "
                                 f"'{text}': {_fmt(probs)}, earlier {_fmt(seen)}",
                                 key=(canonical, text, tuple(round(p, 4) for p in probs)))

    # Reports.

    def summary(self) -> Dict[str, int]:
        with self.lock:
            counts = dict(self.counts)
            counts["violations"] = len(self.violations)
            counts["jobs_known"] = len(self.jobs)
            return counts


def _meta_str(meta) -> str:
    method, labels, job = meta
    return f"(method {method}, labels {list(labels)}, training_job_id '{job}')"


def _fmt(probs: List[float]) -> str:
    return "[" + ", ".join(f"{p:.6f}" for p in probs) + "]"


def _restart_note(record: JobRecord, model: CrashModel) -> str:
    if model.incarnation > record.cancel_incarnation:
        return f"; the server was killed and restarted since (now incarnation {model.incarnation})"
    return "; in the same incarnation (no restart in between)"

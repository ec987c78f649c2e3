"""The maskserve client: one channel, typed methods for every RPC."""

import re
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import grpc

from maskserve_client._stubs import (
    admin_pb2,
    admin_pb2_grpc,
    health_pb2,
    health_pb2_grpc,
    maskserve_pb2 as pb,
    maskserve_pb2_grpc,
)
from maskserve_client.errors import JobFailedError, MaskserveError
from maskserve_client.types import (
    Backup,
    Example,
    ModelInfo,
    PredictResult,
    Profile,
    TrainingJob,
)

# What `train` accepts as one example.
ExampleLike = Union[Example, Tuple[str, str], Tuple[str, str, str], Mapping[str, str]]
# What `predict` accepts as one input: a text or a (text, text_pair) tuple.
TextLike = Union[str, Tuple[str, str]]

_HYPER_PARAMETERS = frozenset(f.name for f in pb.HyperParameters.DESCRIPTOR.fields)

# Reconnections `watch` tries when the stream breaks with UNAVAILABLE.
_WATCH_RECONNECTS = 5

# The metadata key naming the profile a call is about, sent on every
# profile-scoped call (predict, train, get_profile, delete_profile,
# export_profile, import_profile, list_jobs with a profile_id) so that a proxy
# in front of several replicas can route on it (nginx: ``hash
# $http_x_maskserve_profile consistent;``). Other calls send none.
PROFILE_ROUTING_HEADER = "x-maskserve-profile"

# The API's rule for profile ids: 1..128 bytes of [A-Za-z0-9._:@-], not
# starting with '.'. Only such ids are sent as the routing header (gRPC
# metadata values must be printable ASCII); the server rejects any other id
# with INVALID_ARGUMENT anyway.
_PROFILE_ID = re.compile(r"[A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,127}")


@dataclass(frozen=True)
class TlsConfig:
    """TLS settings: a CA for the server certificate (None = system roots),
    a client certificate and key for mutual TLS, and an optional name to
    expect in the server certificate instead of the address's host."""

    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None


def _read(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def _method(method: Union[str, int]) -> int:
    if isinstance(method, int):
        return method
    try:
        return pb.Method.Value(method.upper().replace("-", "_"))
    except ValueError:
        valid = ", ".join(n for n in pb.Method.keys() if n != "METHOD_UNSPECIFIED")
        raise ValueError(f"unknown method {method!r}; expected one of {valid}") from None


def _head_precision(precision: Union[str, int]) -> int:
    """``"int8"``, ``"fp16"``, ``"HEAD_PRECISION_INT8"`` or an enum value."""
    if isinstance(precision, int):
        return precision
    name = precision.upper().replace("-", "_")
    for candidate in (name, "HEAD_PRECISION_" + name):
        if candidate in pb.HeadPrecision.keys() and candidate != "HEAD_PRECISION_UNSPECIFIED":
            return pb.HeadPrecision.Value(candidate)
    raise ValueError(f"unknown head precision {precision!r}; expected 'fp16' or 'int8'")


def _example(item: ExampleLike) -> Example:
    if isinstance(item, Example):
        return item
    if isinstance(item, Mapping):
        return Example(item["text"], str(item["label"]), item.get("text_pair", "") or "")
    if isinstance(item, tuple) and len(item) == 2:
        return Example(item[0], str(item[1]))
    if isinstance(item, tuple) and len(item) == 3:
        return Example(item[0], str(item[2]), item[1])
    raise TypeError(f"cannot use {item!r} as an example: give Example, (text, label), "
                    "(text, text_pair, label) or a dict")


def _text_input(item: TextLike) -> "pb.TextInput":
    if isinstance(item, str):
        return pb.TextInput(text=item)
    if isinstance(item, tuple) and len(item) == 2:
        return pb.TextInput(text=item[0], text_pair=item[1])
    raise TypeError(f"cannot use {item!r} as an input: give a str or (text, text_pair)")


class Client:
    """A connection to one maskserve server.

    Args:
        address: ``host:port``.
        api_key: sent as ``authorization: Bearer <key>`` on every call; None
            for a server in development mode.

    Profile-scoped calls also send ``x-maskserve-profile: <profile_id>``
    (:data:`PROFILE_ROUTING_HEADER`), for a proxy that routes by profile.
        tls: None/False for plaintext, True for TLS with the system's roots,
            or a :class:`TlsConfig`.
        timeout: default deadline of unary calls, in seconds.

    Use as a context manager (or call :meth:`close`). Safe to share between
    threads, like the gRPC channel under it.
    """

    def __init__(self, address: str, api_key: Optional[str] = None,
                 tls: Union[None, bool, TlsConfig] = None, timeout: float = 10.0,
                 channel_options: Sequence[Tuple[str, object]] = ()):
        self.address = address
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None
        options = list(channel_options)
        if tls:
            config = tls if isinstance(tls, TlsConfig) else TlsConfig()
            if (config.cert_file is None) != (config.key_file is None):
                raise ValueError("TlsConfig: give both cert_file and key_file, or neither")
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(config.ca_file),
                private_key=_read(config.key_file),
                certificate_chain=_read(config.cert_file))
            if config.server_name:
                options.append(("grpc.ssl_target_name_override", config.server_name))
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = maskserve_pb2_grpc.MaskserveStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)

    # Lifecycle.
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _routed(self, profile_id: str):
        """The metadata of a call about ``profile_id``: the API key's and the
        routing header (none for an empty or invalid id)."""
        if not isinstance(profile_id, str) or not _PROFILE_ID.fullmatch(profile_id):
            return self._metadata
        return (self._metadata or ()) + ((PROFILE_ROUTING_HEADER, profile_id),)

    def _call(self, rpc: str, method, request, timeout: Optional[float] = None,
              profile_id: str = ""):
        # ``profile_id``: what a profile-scoped call is about, sent as the
        # routing header; "" for the other calls.
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout,
                          metadata=self._routed(profile_id))
        except grpc.RpcError as error:
            raise MaskserveError(error.code().name, error.details() or "", rpc) from None

    # Server.
    def health(self, service: str = "", timeout: Optional[float] = None) -> str:
        """The serving status name: ``"SERVING"``, ``"NOT_SERVING"``, ..."""
        response = self._call("Health.Check", self._health.Check,
                              health_pb2.HealthCheckRequest(service=service), timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Polls health until SERVING; raises MaskserveError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health(timeout=1.0) == "SERVING":
                    return
            except MaskserveError as error:
                if error.code not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                    raise
            if time.monotonic() >= deadline:
                raise MaskserveError("DEADLINE_EXCEEDED", f"{self.address} is not serving",
                                     "wait_until_serving")
            time.sleep(0.1)

    def info(self, timeout: Optional[float] = None) -> ModelInfo:
        """The backbone, banks, shared heads and limits of the server."""
        return ModelInfo.from_proto(
            self._call("GetModelInfo", self._stub.GetModelInfo, pb.GetModelInfoRequest(), timeout))

    # Administration (maskserve.v1.Admin: an admin key, or a server in
    # development mode).
    def backup(self, dir: str, timeout: Optional[float] = None) -> Backup:
        """Has the server write a consistent, point-in-time copy of its whole
        profile store into ``dir``, a new directory on the server's file
        system, while it keeps serving; returns what it wrote.

        ``dir`` must not exist (its parent is created) and must not lie in
        the server's data directory; it is an absolute path, or, on a server
        started with ``--backup_root``, one relative to that root. Restore
        with ``maskserve --restore_from=DIR --data_dir=NEW_DIR``.

        Raises :class:`MaskserveError`: INVALID_ARGUMENT (message ``"dir:
        ..."``) for a missing or disallowed path, ALREADY_EXISTS when ``dir``
        exists, ABORTED while another backup runs, PERMISSION_DENIED for a
        tenant key (or on a server with no admin keys), UNAUTHENTICATED for
        an unknown key. The client's ``api_key`` must be an admin key (from
        the server's ``--admin_keys_file``) unless the server runs in
        development mode (no ``--api_keys_file``). A large store takes a
        while: give a ``timeout`` longer than the client's default then.
        """
        return Backup.from_proto(self._call("CreateBackup", self._admin.CreateBackup,
                                            admin_pb2.CreateBackupRequest(dir=dir), timeout))

    # Prediction.
    def predict(self, profile_id: str, texts: Union[TextLike, Sequence[TextLike]],
                top_k: int = 1, return_logits: bool = False,
                timeout: Optional[float] = None) -> PredictResult:
        """Classifies ``texts`` (strings or (text, text_pair) tuples, or one
        string) with profile ``profile_id``. The result lists one
        :class:`Prediction` per input and the profile ``version`` used."""
        if isinstance(texts, (str, tuple)):
            texts = [texts]
        request = pb.PredictRequest(profile_id=profile_id, top_k=top_k,
                                    return_logits=return_logits,
                                    inputs=[_text_input(t) for t in texts])
        return PredictResult.from_proto(self._call("Predict", self._stub.Predict, request, timeout,
                                                   profile_id))

    # Training.
    def train(self, profile_id: str, examples: Iterable[ExampleLike],
              labels: Optional[Sequence[str]] = None, method: Union[str, int] = "XPEFT_HARD",
              validation_fraction: Optional[float] = None, seed: int = 0,
              expected_version: Optional[int] = None, description: str = "",
              shared_head: str = "", timeout: Optional[float] = None,
              **hyper_parameters) -> str:
        """Starts a training job and returns its id at once.

        ``labels`` default to the examples' labels in first-seen order, or,
        with ``shared_head`` (the name of a head listed by :meth:`info`), to
        the head's labels: the profile then reuses that frozen head and
        stores none of its own (given ``labels`` must equal the head's).
        ``hyper_parameters`` are fields of HyperParameters (``epochs=5``,
        ``batch_size=8``, ``head_learning_rate=1e-3``, ...); unset ones take
        the server's defaults. ``head_precision`` takes ``"fp16"`` (the
        default) or ``"int8"`` (1 byte per head weight plus a scale per
        label).
        """
        unknown = sorted(set(hyper_parameters) - _HYPER_PARAMETERS)
        if unknown:
            raise TypeError(f"unknown hyper-parameters {unknown}; expected some of "
                            f"{sorted(_HYPER_PARAMETERS)}")
        if "head_precision" in hyper_parameters:
            hyper_parameters["head_precision"] = _head_precision(
                hyper_parameters["head_precision"])
        items = [_example(e) for e in examples]
        if labels is None:
            # With a shared head the server fills in the head's labels.
            labels = [] if shared_head else list(dict.fromkeys(e.label for e in items))
        request = pb.TrainProfileRequest(
            profile_id=profile_id, method=_method(method), label_names=list(labels),
            examples=[pb.TrainingExample(text=e.text, text_pair=e.text_pair, label=e.label)
                      for e in items],
            hyper_parameters=pb.HyperParameters(**hyper_parameters),
            seed=seed, description=description, shared_head=shared_head)
        if validation_fraction is not None:
            request.validation_fraction = validation_fraction
        if expected_version is not None:
            request.expected_version = expected_version
        return self._call("TrainProfile", self._stub.TrainProfile, request, timeout,
                          profile_id).job_id

    def get_job(self, job_id: str, timeout: Optional[float] = None) -> TrainingJob:
        return TrainingJob.from_proto(self._call(
            "GetTrainingJob", self._stub.GetTrainingJob,
            pb.GetTrainingJobRequest(job_id=job_id), timeout))

    def watch(self, job_id: str, timeout: Optional[float] = None) -> Iterator[TrainingJob]:
        """Yields the job's state at once and on every change until it is
        final. Reconnects when the stream breaks with UNAVAILABLE (a few
        times). ``timeout`` bounds the whole watch (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reconnects = 0
        last = None
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            call = self._stub.WatchTrainingJob(pb.WatchTrainingJobRequest(job_id=job_id),
                                               timeout=remaining, metadata=self._metadata)
            error = None
            try:
                for message in call:
                    last = TrainingJob.from_proto(message)
                    reconnects = 0
                    yield last
            except grpc.RpcError as rpc_error:
                error = MaskserveError(rpc_error.code().name, rpc_error.details() or "",
                                       "WatchTrainingJob")
            finally:
                call.cancel()
            if last is not None and last.done:
                return
            if error is not None and error.code != "UNAVAILABLE":
                raise error
            reconnects += 1
            if reconnects > _WATCH_RECONNECTS or (deadline is not None
                                                 and time.monotonic() >= deadline):
                raise error or MaskserveError(
                    "UNAVAILABLE", "the stream ended before the job finished",
                    "WatchTrainingJob")
            time.sleep(0.5)

    def wait(self, job_id: str, timeout: Optional[float] = None,
             raise_on_failure: bool = True) -> TrainingJob:
        """Watches the job until it is final and returns it; raises
        :class:`JobFailedError` when it FAILED or was CANCELLED (unless
        ``raise_on_failure`` is False)."""
        job = None
        for job in self.watch(job_id, timeout=timeout):
            pass
        if job is None:  # pragma: no cover - watch always yields the current state
            job = self.get_job(job_id)
        if raise_on_failure and job.state != "SUCCEEDED":
            raise JobFailedError(job)
        return job

    def cancel_job(self, job_id: str, timeout: Optional[float] = None) -> TrainingJob:
        return TrainingJob.from_proto(self._call(
            "CancelTrainingJob", self._stub.CancelTrainingJob,
            pb.CancelTrainingJobRequest(job_id=job_id), timeout))

    def list_jobs(self, profile_id: str = "", states: Sequence[str] = (), page_size: int = 0,
                  timeout: Optional[float] = None) -> Iterator[TrainingJob]:
        """Yields the caller's jobs, newest first, fetching pages lazily
        (only those of ``profile_id`` when given)."""
        request = pb.ListTrainingJobsRequest(
            profile_id=profile_id, states=[pb.JobState.Value(s) for s in states],
            page_size=page_size)
        while True:
            response = self._call("ListTrainingJobs", self._stub.ListTrainingJobs, request, timeout,
                                  profile_id)
            for job in response.jobs:
                yield TrainingJob.from_proto(job)
            if not response.next_page_token or response.next_page_token == request.page_token:
                return
            request.page_token = response.next_page_token

    # Profiles.
    def get_profile(self, profile_id: str, timeout: Optional[float] = None) -> Profile:
        return Profile.from_proto(self._call(
            "GetProfile", self._stub.GetProfile, pb.GetProfileRequest(profile_id=profile_id),
            timeout, profile_id))

    def list_profiles(self, page_size: int = 0,
                      timeout: Optional[float] = None) -> Iterator[Profile]:
        """Yields every profile of the caller in id order, page by page."""
        request = pb.ListProfilesRequest(page_size=page_size)
        while True:
            response = self._call("ListProfiles", self._stub.ListProfiles, request, timeout)
            for profile in response.profiles:
                yield Profile.from_proto(profile)
            if not response.next_page_token or response.next_page_token == request.page_token:
                return
            request.page_token = response.next_page_token

    def delete_profile(self, profile_id: str, expected_version: Optional[int] = None,
                       timeout: Optional[float] = None) -> int:
        """Deletes the profile; returns the version that was deleted."""
        request = pb.DeleteProfileRequest(profile_id=profile_id)
        if expected_version is not None:
            request.expected_version = expected_version
        return self._call("DeleteProfile", self._stub.DeleteProfile, request,
                          timeout, profile_id).deleted_version

    def export_profile(self, profile_id: str, timeout: Optional[float] = None) -> bytes:
        """The profile as a portable, self-describing byte string."""
        return self._call("ExportProfile", self._stub.ExportProfile,
                          pb.ExportProfileRequest(profile_id=profile_id), timeout,
                          profile_id).data

    def import_profile(self, profile_id: str, data: bytes, overwrite: bool = False,
                       timeout: Optional[float] = None) -> Profile:
        """Stores exported ``data`` as ``profile_id`` (ALREADY_EXISTS unless
        ``overwrite``)."""
        return Profile.from_proto(self._call(
            "ImportProfile", self._stub.ImportProfile,
            pb.ImportProfileRequest(profile_id=profile_id, data=data, overwrite=overwrite),
            timeout, profile_id))

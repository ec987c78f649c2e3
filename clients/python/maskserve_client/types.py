"""Typed views of the API's messages (plain dataclasses, no proto objects).

Enum values are exposed as their names (``"XPEFT_HARD"``, ``"RUNNING"``),
timestamps as timezone-aware ``datetime`` (or ``None`` when unset), uint64
fields as ``int``.
"""

import datetime
from dataclasses import dataclass, field
from typing import Iterator, List, Optional

from maskserve_client._stubs import maskserve_pb2 as pb

FINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def _time(ts) -> Optional[datetime.datetime]:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Example:
    """One labelled training example (``text_pair`` for pair tasks)."""

    text: str
    label: str
    text_pair: str = ""


@dataclass(frozen=True)
class LabelScore:
    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The result for one input: best label, all probabilities, top-k."""

    label: str
    label_index: int
    probabilities: List[float]
    top: List[LabelScore]
    logits: List[float] = field(default_factory=list)

    @classmethod
    def from_proto(cls, p) -> "Prediction":
        return cls(
            label=p.label,
            label_index=p.label_index,
            probabilities=list(p.probabilities),
            top=[LabelScore(s.label, s.index, s.probability) for s in p.top],
            logits=list(p.logits),
        )


@dataclass(frozen=True)
class PredictResult:
    """Predictions in input order plus the profile version that served them.

    Iterating, ``len()`` and indexing go over ``predictions``.
    """

    profile_id: str
    version: int
    label_names: List[str]
    predictions: List[Prediction]

    @classmethod
    def from_proto(cls, r) -> "PredictResult":
        return cls(
            profile_id=r.profile_id,
            version=r.profile_version,
            label_names=list(r.label_names),
            predictions=[Prediction.from_proto(p) for p in r.predictions],
        )

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.predictions)

    def __len__(self) -> int:
        return len(self.predictions)

    def __getitem__(self, index: int) -> Prediction:
        return self.predictions[index]

    @property
    def labels(self) -> List[str]:
        """The best label of every input."""
        return [p.label for p in self.predictions]


@dataclass(frozen=True)
class EvalMetrics:
    loss: float = 0.0
    accuracy: float = 0.0
    macro_f1: float = 0.0
    num_examples: int = 0

    @classmethod
    def from_proto(cls, m) -> "EvalMetrics":
        return cls(m.loss, m.accuracy, m.macro_f1, m.num_examples)


def _field_value(field, value):
    """An enum field's value as its name (the number if this client does not
    know it); other fields' values as they are."""
    if field.enum_type is None:
        return value
    known = field.enum_type.values_by_number.get(value)
    return known.name if known is not None else value


@dataclass(frozen=True)
class TrainingJob:
    """A training job's state and progress (see maskserve.proto)."""

    job_id: str
    profile_id: str
    method: str
    state: str
    epoch: int
    total_epochs: int
    step: int
    total_steps: int
    train_loss: float
    validation: EvalMetrics
    best_validation: EvalMetrics
    error: str
    published_version: int
    num_examples: int
    hyper_parameters: dict
    create_time: Optional[datetime.datetime]
    start_time: Optional[datetime.datetime]
    end_time: Optional[datetime.datetime]
    # The shared head the job trains with; "" = the profile's own head.
    shared_head: str = ""
    # Runs started (a graceful shutdown's interrupted run is not counted).
    attempts: int = 0
    # A cancel of the running job was acknowledged; it ends CANCELLED.
    cancel_requested: bool = False
    # The version the job publishes over (0: none); None for old jobs.
    base_version: Optional[int] = None

    @classmethod
    def from_proto(cls, j) -> "TrainingJob":
        hyper = {f.name: _field_value(f, value) for f, value in j.hyper_parameters.ListFields()}
        return cls(
            job_id=j.job_id,
            profile_id=j.profile_id,
            method=pb.Method.Name(j.method),
            state=pb.JobState.Name(j.state),
            epoch=j.epoch,
            total_epochs=j.total_epochs,
            step=j.step,
            total_steps=j.total_steps,
            train_loss=j.train_loss,
            validation=EvalMetrics.from_proto(j.validation),
            best_validation=EvalMetrics.from_proto(j.best_validation),
            error=j.error,
            published_version=j.published_version,
            num_examples=j.num_examples,
            hyper_parameters=hyper,
            create_time=_time(j.create_time),
            start_time=_time(j.start_time),
            end_time=_time(j.end_time),
            shared_head=j.shared_head,
            attempts=j.attempts,
            cancel_requested=j.cancel_requested,
            base_version=j.base_version if j.HasField("base_version") else None,
        )

    @property
    def done(self) -> bool:
        """True once the job is SUCCEEDED, FAILED or CANCELLED."""
        return self.state in FINAL_JOB_STATES


@dataclass(frozen=True)
class ProfileSize:
    mask_bytes: int = 0
    head_bytes: int = 0
    metadata_bytes: int = 0
    total_bytes: int = 0


@dataclass(frozen=True)
class Profile:
    """A profile's metadata (its masks travel only through export)."""

    profile_id: str
    version: int
    method: str
    label_names: List[str]
    size: ProfileSize
    metrics: EvalMetrics
    training_job_id: str
    bank_fingerprint: str
    description: str
    create_time: Optional[datetime.datetime]
    update_time: Optional[datetime.datetime]
    # The shared head the profile uses; "" = its own head.
    shared_head: str = ""
    # Metrics on the examples it was trained on (``metrics`` is validation).
    train_metrics: Optional[EvalMetrics] = None

    @classmethod
    def from_proto(cls, p) -> "Profile":
        s = p.size
        return cls(
            profile_id=p.profile_id,
            version=p.version,
            method=pb.Method.Name(p.method),
            label_names=list(p.label_names),
            size=ProfileSize(s.mask_bytes, s.head_bytes, s.metadata_bytes, s.total_bytes),
            metrics=EvalMetrics.from_proto(p.metrics),
            training_job_id=p.training_job_id,
            bank_fingerprint=p.bank_fingerprint,
            description=p.description,
            create_time=_time(p.create_time),
            update_time=_time(p.update_time),
            shared_head=p.shared_head,
            train_metrics=EvalMetrics.from_proto(p.train_metrics),
        )


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    device: str
    dtype: str
    fingerprint: str
    lowercase: bool


@dataclass(frozen=True)
class BankInfo:
    kind: str
    num_adapters: int
    bottleneck: int
    top_k: int
    fingerprint: str
    warm: bool
    methods: List[str]


@dataclass(frozen=True)
class SharedHeadInfo:
    """A classification head profiles with its labels may share."""

    name: str
    label_names: List[str]
    fingerprint: str


@dataclass(frozen=True)
class Limits:
    max_inputs_per_request: int
    max_text_bytes: int
    max_examples_per_job: int
    max_labels: int
    max_sequence_length: int
    max_profiles_per_tenant: int


@dataclass(frozen=True)
class ModelInfo:
    """The server's backbone, banks, shared heads and limits."""

    backbone: BackboneInfo
    banks: List[BankInfo]
    limits: Limits
    server_version: str
    shared_heads: List[SharedHeadInfo] = field(default_factory=list)

    @classmethod
    def from_proto(cls, m) -> "ModelInfo":
        b = m.backbone
        backbone = BackboneInfo(
            b.name, b.num_layers, b.hidden_size, b.num_attention_heads, b.intermediate_size,
            b.vocab_size, b.max_position_embeddings, b.device, b.dtype, b.fingerprint,
            b.lowercase)
        banks = [
            BankInfo(pb.BankKind.Name(k.kind), k.num_adapters, k.bottleneck, k.top_k,
                     k.fingerprint, k.warm, [pb.Method.Name(x) for x in k.methods])
            for k in m.banks
        ]
        lim = m.limits
        limits = Limits(lim.max_inputs_per_request, lim.max_text_bytes, lim.max_examples_per_job,
                        lim.max_labels, lim.max_sequence_length, lim.max_profiles_per_tenant)
        shared_heads = [SharedHeadInfo(h.name, list(h.label_names), h.fingerprint)
                        for h in m.shared_heads]
        return cls(backbone, banks, limits, m.server_version, shared_heads)


@dataclass(frozen=True)
class Backup:
    """A backup the server wrote (Admin.CreateBackup, see admin.proto).

    ``dir`` is its absolute path on the server; ``files`` and ``bytes``
    count what it holds (files on the data directory's file system are hard
    links, so it may take little new space); ``profiles`` is the number of
    live profiles of all tenants it caught; ``seconds`` how long it took.
    """

    dir: str
    files: int
    bytes: int
    profiles: int
    seconds: float

    @classmethod
    def from_proto(cls, r) -> "Backup":
        return cls(r.dir, r.files, r.bytes, r.profiles, r.seconds)

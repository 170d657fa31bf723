"""Where built models live: the build key, the cache layout, the lookup of the served model.

A build is cached in ``<cache_dir>/<build_key>/``. The key hashes everything the build is made from:

* :data:`BUILD_FORMAT` (bump it when the recipe — training, export, quantization — changes),
* the base model and, when the recipe distils, the teacher's base (their packages' digests,
  :mod:`models.bases`),
* the training hyper-parameters (:class:`TrainConfig`),
* the contents of the training data files.

The recipe hash (format + base model + hyper-parameters, no data) is also stored in each entry's
``build.json`` so a runtime without the training data (a worker in production) can still find the
newest entry made by the current recipe.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from models import bases
from streams.errors import FinsentError, ModelNotFoundError

log = logging.getLogger(__name__)

# 1: first recipe; 2: per-channel INT8 weights (INT8/FP32 label agreement 94% -> 98%), lr 1e-4;
# 3: cleaned training text, class-weighted loss, calibration hold-out + temperature, fused graph
#    before INT8, FP16 file for the GPU, named models (default | research)
# 4: distilled from an all-mpnet-base-v2 teacher, with unlabeled 8-K sentences as transfer set;
#    base models identified by their packages' recorded digests
# 5: 10-K MD&A and FinEntity sentences and noisy copies of the labeled rows (models.augment)
#    in the transfer set
# 6: a teacher of two members (seeds 13 and 14) whose probabilities are averaged; every 8-K
#    sentence and 14,000 sentences of whole 10-K MD&A sections (was: their first 30,000 chars)
BUILD_FORMAT = 6

# The teacher's own cache key (models.distill) hashes TEACHER_FORMAT, its base and the fields of
# its recipe that its training reads, so that student-only changes keep the cached teacher.
# 1: fine-tuned as models.train.fine_tune does (cleaned rows, class weights, calibration hold-out)
TEACHER_FORMAT = 1
TEACHER_FIELDS = (
    "name", "base", "epochs", "batch_size", "max_length", "learning_rate", "weight_decay",
    "warmup_ratio", "seed", "class_weight_power", "news_repeat", "calibration_fraction",
)  # fmt: skip

# Files of a complete model folder.
FP32_ONNX = "model.onnx"
INT8_ONNX = "model.int8.onnx"
FP16_ONNX = "model.fp16.onnx"
TRAINING_KEYS = "training_keys.txt"  # text_key of every training row, for eval deduplication
TOKENIZER_FILE = "tokenizer.json"
CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"
BUILD_JSON = "build.json"
EVAL_JSON = "eval.json"
TORCH_DIR = "torch"
REQUIRED_FILES = (
    FP32_ONNX,
    INT8_ONNX,
    FP16_ONNX,
    TOKENIZER_FILE,
    CARD_JSON,
    CARD_MD,
    BUILD_JSON,
    TRAINING_KEYS,
)

HINT = "run `finsent model build`"


@dataclass(frozen=True)
class TeacherConfig:
    """How the teacher is fine-tuned on the same labeled rows as the student."""

    base: str = "all-mpnet-base-v2"
    epochs: int = 2
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    news_repeat: int = 1  # FinEntity paragraphs are long: once per epoch is enough for the teacher
    # Fine-tuned this many times, with seeds seed, seed + 1, ...; the student learns from the
    # members' mean probabilities (default: Twitter valid F1w 0.897 against 0.893 and 0.892 for
    # the two members alone).
    members: int = 2

    def __post_init__(self) -> None:
        if self.members < 1:
            raise FinsentError(f"a teacher needs at least one member, got {self.members}")


@dataclass(frozen=True)
class TrainConfig:
    """Training recipe of one named model. Every field goes into the build key."""

    name: str = "default"  # default | research (which training sets, see models.data)
    base: str = "all-MiniLM-L6-v2"
    epochs: int = 3
    batch_size: int = 32
    max_length: int = 128  # Twitter texts are <= 82 tokens; FinEntity paragraphs up to ~200
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = 13
    # Loss weight of class c: (n / (3 n_c)) ** class_weight_power. Twitter is two-thirds
    # neutral; 0.5 (square-root inverse frequency) keeps mild news sentences from all reading
    # neutral without over-calling polarity.
    class_weight_power: float = 0.5
    # FinEntity news paragraphs are repeated this many times per epoch (news-style balance).
    news_repeat: int = 2
    # Part of the training rows held out (by text key) to fit the temperature.
    calibration_fraction: float = 0.08
    # Distillation (None: train on the gold labels alone). The student's loss is
    # (1 - distill_weight) * class-weighted cross-entropy on the gold label
    # + distill_weight * T^2 * KL(teacher || student) at temperature T = distill_temperature;
    # transfer sentences have no gold label and learn from the teacher alone.
    teacher: TeacherConfig | None = TeacherConfig()
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    # Unlabeled text the teacher labels for the student (models.data.transfer_sentences,
    # models.augment): 8-K and 10-K MD&A sentences (SEC public records), the FinEntity
    # paragraphs' sentences, noisy copies of each labeled text.
    transfer_sentences: int = 6000  # at most: the 8-K file has 5,547 such sentences
    mdna_sentences: int = 14_000
    finentity_sentences: bool = True
    noisy_copies: int = 1

    def teacher_recipe(self, member: int = 0) -> TrainConfig:
        """The recipe teacher ``member`` is fine-tuned with (same rows, its own base, schedule
        and seed)."""
        if self.teacher is None:
            raise FinsentError(f"model {self.name!r} has no teacher")
        t = self.teacher
        return replace(
            self,
            base=t.base,
            seed=self.seed + member,
            epochs=t.epochs,
            learning_rate=t.learning_rate,
            warmup_ratio=t.warmup_ratio,
            news_repeat=t.news_repeat,
            teacher=None,
            distill_weight=0.0,
            distill_temperature=1.0,
            transfer_sentences=0,
            mdna_sentences=0,
            finentity_sentences=False,
            noisy_copies=0,
        )


def recipe(name: str = "default") -> TrainConfig:
    """The recipe of the named model (``default`` | ``research``).

    ``research`` trains on a third more rows (PhraseBank train) for 2 epochs instead of 3, so
    its build costs about the same CPU time as the default one.
    """
    from models.data import MODEL_NAMES

    if name not in MODEL_NAMES:
        raise FinsentError(f"model name must be one of {', '.join(MODEL_NAMES)}, got {name!r}")
    if name == "research":
        return TrainConfig(name=name, epochs=2)
    return TrainConfig(name=name)


def _hash_file(h: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)


def file_digest(path: Path) -> str:
    """sha256 hex digest of a file's contents."""
    h = hashlib.sha256()
    _hash_file(h, path)
    return h.hexdigest()


def short_version(path: Path) -> str:
    """A model version: the first 12 hex digits of the sha256 of the ONNX file."""
    return file_digest(path)[:12]


def recipe_hash(config: TrainConfig) -> str:
    """Hash of BUILD_FORMAT + the base (and teacher base) packages + hyper-parameters (no data)."""
    h = hashlib.sha256()
    h.update(f"finsent-build-format={BUILD_FORMAT}\n".encode())
    h.update(f"base:{bases.by_name(config.base).fingerprint()}\n".encode())
    if config.teacher is not None:
        h.update(f"teacher:{bases.by_name(config.teacher.base).fingerprint()}\n".encode())
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
    return h.hexdigest()


def teacher_hash(config: TrainConfig, member: int = 0) -> str:
    """Hash of what teacher ``member`` of ``config`` is trained from, the data aside:
    TEACHER_FORMAT, its base package and the TEACHER_FIELDS of its
    :meth:`TrainConfig.teacher_recipe`."""
    teacher = config.teacher_recipe(member)
    h = hashlib.sha256()
    h.update(f"finsent-teacher-format={TEACHER_FORMAT}\n".encode())
    h.update(f"base:{bases.by_name(teacher.base).fingerprint()}\n".encode())
    h.update(json.dumps({k: getattr(teacher, k) for k in TEACHER_FIELDS}, sort_keys=True).encode())
    return h.hexdigest()


def data_hash(files: list[Path]) -> str:
    """Hash of the training data files' contents (names relative, order fixed)."""
    h = hashlib.sha256()
    for path in files:
        if not path.is_file():
            raise FinsentError(f"training data file not found: {path} (set FINSENT_DATA)")
        h.update(f"data:{path.name}\n".encode())
        _hash_file(h, path)
    return h.hexdigest()


def build_key(recipe: str, data: str) -> str:
    """The cache key: 16 hex digits over the recipe hash and the data hash."""
    return hashlib.sha256(f"{recipe}\n{data}".encode()).hexdigest()[:16]


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds every file of a finished build."""
    return folder.is_dir() and all((folder / name).is_file() for name in REQUIRED_FILES)


def find_by_recipe(cache_dir: Path, recipe: str) -> Path | None:
    """Newest complete cache entry whose build.json names ``recipe``."""
    best: tuple[float, Path] | None = None
    if not cache_dir.is_dir():
        return None
    for entry in cache_dir.iterdir():
        if entry.name.startswith(".") or not is_complete(entry):
            continue
        try:
            meta = json.loads((entry / BUILD_JSON).read_text())
        except (OSError, ValueError):
            continue
        if meta.get("recipe_hash") == recipe:
            mtime = (entry / BUILD_JSON).stat().st_mtime
            if best is None or mtime > best[0]:
                best = (mtime, entry)
    return best[1] if best else None


def resolve_model_dir(
    cache_dir: Path,
    explicit: Path | None = None,
    data_dir: Path | None = None,
    config: TrainConfig | None = None,
) -> Path:
    """The folder of the served model.

    ``explicit`` (FINSENT_MODEL_PATH) wins. Otherwise the cache entry for the current build key
    (when the training data is readable under ``data_dir``), else the newest complete entry made
    by the current recipe. Raises :class:`ModelNotFoundError` when there is none.
    """
    if explicit is not None:
        if not is_complete(explicit):
            missing = [n for n in REQUIRED_FILES if not (explicit / n).is_file()]
            raise ModelNotFoundError(
                f"model folder {explicit} is incomplete (missing {', '.join(missing)}); {HINT}"
            )
        return explicit
    from models import data as labeled

    config = config or TrainConfig()
    digest = recipe_hash(config)
    hint = HINT if config.name == "default" else f"run `finsent model build --name {config.name}`"
    files = labeled.training_files(data_dir, config.name) if data_dir is not None else []
    if files and all(p.is_file() for p in files):
        folder = cache_dir / build_key(digest, data_hash(files))
        if is_complete(folder):
            return folder
        raise ModelNotFoundError(f"no built {config.name!r} model at {folder}; {hint}")
    folder = find_by_recipe(cache_dir, digest)
    if folder is None:
        raise ModelNotFoundError(f"no built {config.name!r} model in {cache_dir}; {hint}")
    log.info("training data not readable; serving newest build of the current recipe: %s", folder)
    return folder

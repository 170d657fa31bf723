"""FINSENT_MODEL_NAME: which named model is served, and the hint when it is not built."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from models import load_classifier
from models.data import training_files, training_sets
from models.registry import TrainConfig, recipe, recipe_hash
from streams.errors import ConfigError, FinsentError, ModelNotFoundError
from streams.settings import load_settings


def test_model_name_setting() -> None:
    assert load_settings({}).model.name == "default"
    assert load_settings({"FINSENT_MODEL_NAME": "research"}).model.name == "research"
    with pytest.raises(ConfigError, match="FINSENT_MODEL_NAME must be default or research"):
        load_settings({"FINSENT_MODEL_NAME": "big"})


def test_named_recipes_differ() -> None:
    assert recipe("default") == TrainConfig()
    assert recipe("research").name == "research"
    assert recipe_hash(recipe("default")) != recipe_hash(recipe("research"))
    with pytest.raises(FinsentError, match="default, research"):
        recipe("other")


def test_research_adds_phrasebank_train_only(data_dir: Path) -> None:
    default = [s.name for s in training_sets(data_dir)]
    research = [s.name for s in training_sets(data_dir, "research")]
    assert default == ["twitter_financial_news_train", "finentity_agreeing_paragraphs"]
    assert research == [*default, "fingpt_fpb_train"]
    assert not any(
        "PhraseBank" in str(p) or "phrasebank" in str(p) for p in training_files(data_dir)
    )
    assert any("phrasebank" in str(p) for p in training_files(data_dir, "research"))


def test_unbuilt_research_model_names_the_command(data_dir: Path, tmp_path: Path) -> None:
    settings = replace(load_settings().model, cache_dir=tmp_path, name="research")
    with pytest.raises(ModelNotFoundError, match="finsent model build --name research"):
        load_classifier(settings, data_dir)

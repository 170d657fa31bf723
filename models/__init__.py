"""The sentiment model: cached build (fine-tune, ONNX export, INT8), evaluation, and runtime.

The runtime names below import neither torch nor transformers.
"""

from models.build import ensure_model
from models.data import LABELS
from models.runtime import Classifier, Evidence, Prediction, load_classifier

__all__ = ["LABELS", "Classifier", "Evidence", "Prediction", "ensure_model", "load_classifier"]

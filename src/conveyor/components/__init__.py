"""Ready-made pipeline steps for the ML lifecycle, TFX-style, in plain pandas and scikit-learn.

    ingest → infer_schema / validate → statistics → split → train → evaluate → gate → register

Each is a `Step`: call it inside a `@cv.pipeline` like your own steps, rename a second use with
`.options(name=...)`. Each records what it did (params, metrics, report artifacts) in the run.
pandas, scikit-learn and SQLAlchemy load only when a component runs.
"""

from conveyor.components._batch import batch_predict
from conveyor.components._evaluate import evaluate
from conveyor.components._gate import gate
from conveyor.components._ingest import ingest
from conveyor.components._register import register
from conveyor.components._schema import infer_schema, read_schema, validate, write_schema
from conveyor.components._split import split
from conveyor.components._statistics import statistics
from conveyor.components._train import train
from conveyor.components._tune import tune

__all__ = [
    "batch_predict",
    "evaluate",
    "gate",
    "infer_schema",
    "ingest",
    "read_schema",
    "register",
    "split",
    "statistics",
    "train",
    "tune",
    "validate",
    "write_schema",
]

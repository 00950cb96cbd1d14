"""Palmer penguins: ingest → validate → statistics → split → train → evaluate → gate → register.

Run it (from this folder):

    conveyor run pipeline.py:training                            # trains, registers, promotes
    conveyor run pipeline.py:training -p classifier=majority     # worse: the gate refuses it
    conveyor models show penguins@production

The data's schema is pinned in `schema.json` (written once by `infer_schema`, then reviewed);
`validate` fails the run if a new data file breaks it, before anything is trained.
"""

from __future__ import annotations

from pathlib import Path

from model import build

import conveyor as cv
from conveyor.components import (
    evaluate,
    gate,
    infer_schema,
    ingest,
    register,
    split,
    statistics,
    train,
    validate,
)

HERE = Path(__file__).parent


@cv.pipeline
def training(
    source: str = str(HERE / "data" / "penguins.csv"),
    schema: str = str(HERE / "schema.json"),
    classifier: str = "logistic",
    C: float = 1.0,
    min_accuracy: float = 0.9,
    policy: str = "fail",
):
    data = ingest(source)
    inferred = infer_schema(data)  # recorded beside the pinned one: diff them to review drift
    valid, report = validate(data, schema, policy=policy)  # "warn": retrain on a moved world
    stats = statistics(valid)  # the reference that drift monitoring compares live data with
    train_set, test_set = split(valid, method="stratified", by="species", test_size=0.25)
    model = train(
        train_set,
        target="species",
        estimator=build(classifier, C),
        features=["island", "sex", *_measurements()],
    )
    evaluation = evaluate(model, test_set, target="species", slice_by=["island"])
    decision = gate(
        evaluation,
        test_set,
        model_name="penguins",
        thresholds={"accuracy": f">={min_accuracy}"},
        baseline="production",
        tolerance=0.01,
    )
    version = register(model, evaluation, name="penguins", decision=decision, schema=inferred)
    return {"version": version, "evaluation": evaluation, "report": report, "stats": stats}


def _measurements() -> list[str]:
    return ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


if __name__ == "__main__":
    run = training.run()
    print(run.status, run.output()["version"])

"""Fit the confidence calibration of the customer service retriever.

    .venv/bin/python -m bench.customer_service_calibrate

Reads ``apps/customer_service/demo/calibration.csv`` (in-scope questions with the
entry that answers them, and out-of-scope questions with none; none of them are
in the benchmark sets), computes the retriever's features for each, and fits a
logistic regression of "the top entry is the right answer" on them. Writes the
coefficients to ``demo/calibration.json``, which the app loads.
"""

from __future__ import annotations

import csv
import json
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression

from apps.customer_service import CustomerServiceBot
from apps.customer_service.datasets import DEMO_DIR
from apps.customer_service.retrieval import CALIBRATION_FILE, FEATURES


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bot = CustomerServiceBot.demo(data_dir=tmp)
        rows = list(csv.DictReader((DEMO_DIR / "calibration.csv").open(encoding="utf-8")))
        x, y = [], []
        for row in rows:
            result = bot.search(row["question"])
            x.append([result.features[f] for f in FEATURES])
            y.append(
                int(
                    bool(row["expected_id"])
                    and result.top is not None
                    and result.top.entry.id == row["expected_id"]
                )
            )
    x_arr, y_arr = np.array(x), np.array(y)
    # C=1: mild regularisation; 50 examples should not yield extreme weights.
    model = LogisticRegression(C=1.0).fit(x_arr, y_arr)
    p = model.predict_proba(x_arr)[:, 1]
    out = {
        "features": list(FEATURES),
        "weights": [round(float(w), 4) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 4),
        "fitted_on": "demo/calibration.csv",
        "n": len(y),
        "positives": int(y_arr.sum()),
        "train_accuracy_at_0.5": float(((p >= 0.5) == y_arr).mean()),
        "brier": float(np.mean((p - y_arr) ** 2)),
    }
    CALIBRATION_FILE.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

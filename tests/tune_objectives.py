"""Module-level objectives for the tune tests (process pools and Dask need
picklable functions)."""
import math

import numpy as np


def bowl(params, seed):
    """Minimum at lr = 10^-2.5 and beta = 1 - 10^-2 (0.99), plus seeded noise."""
    noise = np.random.default_rng(seed).normal(0, 1e-3)
    return ((math.log10(params["lr"]) + 2.5) ** 2 + (math.log10(1 - params["beta"]) + 2) ** 2
            + 0.1 * params.get("units", 0) / 100 + noise)


def sometimes_fails(params, seed):
    if params["lr"] > 0.1:
        raise RuntimeError("diverged")
    if params["lr"] < 1e-3:
        return float("nan")
    return {"dev_error": params["lr"], "train_error": 0.0}


def digits_model(params, seed):
    import fastnn
    model = fastnn.Sequential([fastnn.Dense(64, 32, "relu"), fastnn.Dense(32, 10)], dtype=np.float32, seed=seed)
    return model, fastnn.Adam(model.parameters(), lr=params["lr"], betas=(params["beta1"], 0.999))

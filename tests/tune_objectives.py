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


def hostile(params, seed):
    """Trials that end their worker in every way but an exception: by
    ``os._exit`` (as a segfault would), by ``SystemExit``, or by running
    past any timeout; the rest succeed."""
    import os
    import time
    kind = params["kind"]
    if kind == "exit":
        os._exit(3)
    if kind == "system_exit":
        raise SystemExit(2)
    if kind == "sleep":
        time.sleep(60)
    return params["x"]


def killed_at(params, seed):
    """Kills the whole search (SIGKILL to this process) at x == 5 while the
    file named by FASTNN_TEST_KILL exists, as a power cut would."""
    import os
    import signal
    flag = os.environ.get("FASTNN_TEST_KILL")
    if params["x"] == 5 and flag and os.path.exists(flag):
        os.kill(os.getpid(), signal.SIGKILL)
    return float(params["x"])

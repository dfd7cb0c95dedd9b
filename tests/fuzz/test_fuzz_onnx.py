"""ONNX export of random architectures: onnxruntime gives what fastnn's
inference gives (the tolerance table's reduction bar), for every layer
kind, both dtypes, folded and unfolded batch norm, any batch size."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastnn.testing import assert_close

from .test_fuzz_models import architectures, data, make

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@given(spec=architectures(), f64=st.booleans(), fold=st.booleans(), m=st.integers(1, 30),
       seed=st.integers(0, 2 ** 16))
def test_onnx_equals_fastnn_inference(spec, f64, fold, m, seed):
    import fastnn
    dt = np.float64 if f64 else np.float32
    X, y = data(spec, max(m, 2), seed, "none", "none")
    model = make(spec, dt, seed=seed)
    # a few steps, so the batch-norm statistics and the weights move off their start
    model.fit(X, y, optimizer=fastnn.SGD(model.parameters(), lr=0.05), epochs=2, batch_size=len(X),
              verbose=False)
    session = ort.InferenceSession(model.to_onnx(fold_batchnorm=fold).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"X": np.asarray(X, dt)[:m]})))
    x = np.asarray(X, dt)[:m]
    logits = model.forward(x)
    assert_close(out["logits"], logits, kind="reduction")
    if model.loss == "mean_squared_error":
        assert_close(out["predictions"], logits, kind="reduction")
    else:
        assert_close(out["probabilities"], model.predict_proba(x), kind="reduction")
        # a label may differ only where two logits tie within rounding
        close = np.isclose(out["label"], model.predict(x))
        assert close.all() or np.ptp(logits, axis=-1).min() < 1e-5

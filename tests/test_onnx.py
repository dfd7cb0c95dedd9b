"""ONNX export: every layer kind, run by onnxruntime, equals fastnn's own
inference (predict_proba, predict) at several batch sizes."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import fastnn  # noqa: E402
from fastnn.testing import assert_close  # noqa: E402

BATCHES = (1, 7, 300)


def run(proto, X):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X})))


def trained(layers, loss, dtype, y):
    X = np.random.default_rng(0).standard_normal((300, 6)).astype(dtype)
    model = fastnn.Sequential(layers, loss=loss, dtype=dtype, seed=3)
    model.fit(X, y, fastnn.Adam(model.parameters(), lr=0.01), epochs=3, batch_size=32, verbose=False)
    return model, X


def every_layer(out):
    return [fastnn.Dense(6, 16, bias=False), fastnn.BatchNorm(16), fastnn.ReLU(), fastnn.Dropout(0.8),
            fastnn.Dense(16, 12, "leaky_relu", alpha=0.2), fastnn.BatchNorm(12), fastnn.Tanh(),
            fastnn.Dense(12, 8, "sigmoid"), fastnn.LeakyReLU(0.1), fastnn.Dense(8, 8, "tanh"),
            fastnn.Sigmoid(), fastnn.Dense(8, out)]


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "batchnorm-node"])
@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"])
def test_every_layer_kind_equals_fastnn(dtype, loss, fold):
    rng = np.random.default_rng(1)
    y = {"softmax_cross_entropy": rng.integers(0, 3, 300), "binary_cross_entropy": rng.integers(0, 2, (300, 3)),
         "mean_squared_error": rng.standard_normal((300, 3))}[loss]
    model, X = trained(every_layer(3), loss, dtype, y)
    proto = model.to_onnx(fold_batchnorm=fold)
    kinds = {n.op_type for n in proto.graph.node}
    # the first BatchNorm follows a linear Dense (folded), the second an activated one (never folded)
    assert sum(n.op_type == "BatchNormalization" for n in proto.graph.node) == (1 if fold else 2)
    assert {"Relu", "Tanh", "Sigmoid"} <= kinds and "Dropout" not in kinds
    for batch in BATCHES:
        out = run(proto, X[:batch])
        assert_close(out["logits"], model.forward(X[:batch]), kind="reduction")
        if loss == "mean_squared_error":
            assert_close(out["predictions"], model.predict(X[:batch]), kind="reduction")
        else:
            assert_close(out["probabilities"], model.predict_proba(X[:batch]), kind="reduction")
            np.testing.assert_array_equal(out["label"], model.predict(X[:batch]))


def test_folding_removes_the_batchnorm_nodes_and_keeps_the_numbers():
    y = np.random.default_rng(1).integers(0, 3, 300)
    model, X = trained(every_layer(3), "softmax_cross_entropy", np.float64, y)
    folded, plain = model.to_onnx(), model.to_onnx(fold_batchnorm=False)
    assert len(folded.graph.node) < len(plain.graph.node)
    assert_close(run(folded, X)["probabilities"], run(plain, X)["probabilities"], kind="reduction")


def test_float32_graph_of_a_float64_model():
    y = np.random.default_rng(1).integers(0, 3, 300)
    model, X = trained(every_layer(3), "softmax_cross_entropy", np.float64, y)
    out = run(model.to_onnx(dtype=np.float32), X.astype(np.float32))
    assert out["probabilities"].dtype == np.float32
    assert_close(out["probabilities"], model.predict_proba(X).astype(np.float32), kind="reduction")


def test_written_file_loads(tmp_path):
    y = np.random.default_rng(1).integers(0, 3, 300)
    model, X = trained(every_layer(3), "softmax_cross_entropy", np.float32, y)
    path = tmp_path / "model.onnx"
    model.to_onnx(path)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded)
    assert_close(run(loaded, X)["probabilities"], model.predict_proba(X), kind="reduction")
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]       # no temporary left


def test_a_layer_without_export_is_named():
    class Square(fastnn.layers.Layer):
        def forward(self, x, training=False):
            return x * x

    model = fastnn.Sequential([fastnn.Dense(2, 4), Square(), fastnn.Dense(4, 2)])
    with pytest.raises(TypeError, match="Square has no ONNX export"):
        model.to_onnx()


def test_not_a_model():
    from fastnn.onnx import to_onnx
    with pytest.raises(TypeError, match="Sequential"):
        to_onnx("model.npz")


@pytest.fixture
def sk():
    pytest.importorskip("sklearn")


@pytest.mark.usefixtures("sk")
@pytest.mark.filterwarnings("ignore::UserWarning")          # ConvergenceWarning: 20 epochs are enough here
class TestEstimators:
    @pytest.mark.parametrize("labels", [np.array(["ant", "bee", "cat"]), np.array([3, 5, 9]),
                                        np.array(["no", "yes"])], ids=["strings", "ints", "binary"])
    @pytest.mark.parametrize("batch_norm", [False, True])
    def test_classifier(self, labels, batch_norm):
        from fastnn.sklearn import MLPClassifier
        rng = np.random.default_rng(0)
        X = rng.standard_normal((300, 6)).astype(np.float32)
        y = labels[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1) * (len(labels) - 2)]
        clf = MLPClassifier((16, 8), batch_norm=batch_norm, keep_prob=0.9, max_iter=20, random_state=0).fit(X, y)
        proto = clf.to_onnx()
        for batch in BATCHES:
            out = run(proto, X[:batch])
            assert_close(out["probabilities"], clf.predict_proba(X[:batch]), kind="reduction")
            np.testing.assert_array_equal(out["label"], clf.predict(X[:batch]))

    def test_multilabel_classifier(self):
        from sklearn.datasets import make_multilabel_classification

        from fastnn.sklearn import MLPClassifier
        X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
        clf = MLPClassifier(max_iter=20, random_state=0, dtype="float32").fit(X, Y)
        out = run(clf.to_onnx(), X.astype(np.float32))
        assert_close(out["probabilities"], clf.predict_proba(X), kind="reduction")
        np.testing.assert_array_equal(out["label"], clf.predict(X))

    @pytest.mark.parametrize("targets", [1, 2])
    def test_regressor(self, targets):
        from fastnn.sklearn import MLPRegressor
        rng = np.random.default_rng(0)
        X = rng.standard_normal((300, 6))
        y = X[:, :targets] * 2 + 1
        reg = MLPRegressor(max_iter=20, random_state=0).fit(X, y[:, 0] if targets == 1 else y)
        for batch in BATCHES:
            out = run(reg.to_onnx(), X[:batch])
            assert_close(out["predictions"], reg.predict(X[:batch]), kind="reduction")

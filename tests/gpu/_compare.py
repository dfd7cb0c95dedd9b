"""Two models trained on two backends, compared as a whole."""
import numpy as np

from fastnn import testing


def assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, dtype):
    """Weights (host NumPy arrays), layer buffers (dropout streams exactly,
    batch-norm running statistics within ``dtype``'s tolerance), and the
    optimizers' step counts and state buffers."""
    for wg, wc in zip(gpu.get_weights(), cpu.get_weights()):
        for a, b in zip(wg, wc):
            assert isinstance(a, np.ndarray)
            testing.assert_close(a, b, "reduction")
    for lg, lc in zip(gpu.layers, cpu.layers):
        for k, v in lc.buffers().items():
            got = lg.buffers()[k]
            if k in ("seed", "offset"):
                assert got == v                     # dropout streams advance alike
            else:                                   # float64 statistics of a `dtype` computation
                testing.assert_close(got.astype(dtype), v.astype(dtype), "reduction", err_msg=k)
    assert gpu_opt.t == cpu_opt.t
    for k, v in cpu_opt.state_dict()["state"].items():
        testing.assert_close(gpu_opt.state_dict()["state"][k], v, "reduction", err_msg=k)


def assert_histories_alike(hg, hc, dtype):
    """Two ``fit`` histories: cost, accuracy (where there is one) and lr per
    epoch, and each Dense layer's gradient norms, float64 figures of a
    ``dtype`` computation compared at that dtype's tolerance."""
    for key in ("cost", "accuracy", "lr"):
        if hc.history[key][0] is not None:
            testing.assert_close(np.array(hg.history[key], dtype), np.array(hc.history[key], dtype),
                                 "reduction", err_msg=key)
    assert set(hg.grad_norms) == set(hc.grad_norms)
    for layer in hc.grad_norms:
        testing.assert_close(np.array(hg.grad_norms[layer], dtype), np.array(hc.grad_norms[layer], dtype),
                             "reduction", err_msg=layer)

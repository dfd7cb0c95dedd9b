"""Optimizer updates over one flat parameter buffer, reference.

Every update works on flat vectors: parameters ``p``, gradients ``g`` and the
optimizer's state, all with the same layout. Elements ``i < n_decay`` are the
ones that take weight decay (fastnn puts the weights first; biases, gamma and
beta come after and are not decayed). With coupled decay (L2 through the
gradient) ``g_i <- g_i + weight_decay * p_i`` for those elements first.

SGD
    p -= lr * g
Momentum, the course's form (PyTorch's is ``v = mu*v + g``: the same
trajectory with lr scaled by 1/(1 - beta))
    v = beta * v + (1 - beta) * g ;  p -= lr * v
RMSprop (eps outside the root, as PyTorch; optax and TensorFlow put it inside)
    s = beta * s + (1 - beta) * g^2 ;  p -= lr * g / (sqrt(s) + eps)
Adam (t counts updates from 1; bc1 = 1 - beta1^t, bc2 = 1 - beta2^t are
computed on the host in float64 and passed in; eps outside the root)
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g^2
    p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
AdamW (decoupled weight decay: shrink the parameter, not the gradient)
    p -= lr * weight_decay * p     (elements i < n_decay), then Adam with g as is

Scalars arrive as the parameters' dtype except bc1, bc2 (float64).
"""
import numpy as np


def _coupled(g, p, weight_decay, n_decay):
    if weight_decay and n_decay:
        g = g.copy()
        g[:n_decay] += weight_decay * p[:n_decay]
    return g


def sgd_update(p, g, lr, weight_decay, n_decay):
    """p -= lr * g (g with coupled L2 on the first n_decay elements)."""
    p -= lr * _coupled(g, p, weight_decay, n_decay)


def momentum_update(p, g, v, lr, beta, weight_decay, n_decay):
    """v = beta v + (1 - beta) g; p -= lr v."""
    g = _coupled(g, p, weight_decay, n_decay)
    v[...] = beta * v + (1 - beta) * g
    p -= lr * v


def rmsprop_update(p, g, s, lr, beta, eps, weight_decay, n_decay):
    """s = beta s + (1 - beta) g^2; p -= lr g / (sqrt(s) + eps)."""
    g = _coupled(g, p, weight_decay, n_decay)
    s[...] = beta * s + (1 - beta) * g * g
    p -= lr * g / (np.sqrt(s) + eps)


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, n_decay, bc1, bc2):
    """Adam with bias correction; AdamW when ``decoupled``."""
    if decoupled:
        p[:n_decay] -= (lr * weight_decay) * p[:n_decay]
    else:
        g = _coupled(g, p, weight_decay, n_decay)
    m[...] = beta1 * m + (1 - beta1) * g
    v[...] = beta2 * v + (1 - beta2) * g * g
    dt = p.dtype.type
    p -= lr * (m / dt(bc1)) / (np.sqrt(v / dt(bc2)) + eps)

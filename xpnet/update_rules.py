"""The optimizers' update rules as plain array-API code, in place on flat buffers.

``p`` parameters, ``g`` gradient, ``v``/``s`` first and second moments (exponentially weighted
averages), all 1-D arrays of the same length; scalars are Python floats. These are the reference
that every fused fast path is tested against.
"""
from __future__ import annotations

from xpnet.ewa import ewa_update


def sgd(xp, p, g, lr):
    """``p -= lr g``."""
    p -= lr * g


def momentum(xp, p, g, v, lr, beta, nesterov):
    """``v = beta v + (1 - beta) g``; ``p -= lr v`` (Nesterov: ``p -= lr (beta v + (1 - beta) g)``)."""
    ewa_update(v, g, beta)
    if nesterov:
        p -= lr * (beta * v + (1.0 - beta) * g)
    else:
        p -= lr * v


def rmsprop(xp, p, g, s, lr, beta, eps):
    """``s = beta s + (1 - beta) g^2``; ``p -= lr g / (sqrt(s) + eps)``."""
    ewa_update(s, g * g, beta)
    p -= lr * g / (xp.sqrt(s) + eps)


def adam(xp, p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2):
    """Moments as in momentum and RMSprop, then
    ``p -= (lr / correction1) v / (sqrt(s) / root_correction2 + eps)``, which is
    ``lr v_hat / (sqrt(s_hat) + eps)`` with ``correction1 = 1 - beta1^t`` and
    ``root_correction2 = sqrt(1 - beta2^t)``."""
    ewa_update(v, g, beta1)
    ewa_update(s, g * g, beta2)
    p -= (lr / correction1) * v / (xp.sqrt(s) / root_correction2 + eps)

"""Fusion: a Dense layer and the activation right after it run as one stage where the kernels can.

Run separately, the pair passes over its ``(m, k)`` activations four times forward (write
``Z = X W``, add ``b``, read Z and write ``A = f(Z)``) and four times backward (read ``dA`` and Z,
write ``dZ``, sum it for ``db``). As one stage:

    forward   Z = X W;   A = f(Z + b)                    one pass, A written over Z
    backward  dZ = dA * f'(A),  db = sum_m dZ             one pass
              dW = X^T dZ,  dX = dZ W^T

``f'`` is read off the output A, which is exact for ReLU and LeakyReLU (``A > 0`` exactly where
``Z > 0``). The layers keep their parameters, names and configuration; only the order of work
changes. Subclasses of the layers are left unfused, so one that overrides forward or backward
keeps its own.
"""
from __future__ import annotations

from xpnet.layers import Activation, Dense, LeakyReLU, ReLU


class DenseActivation:
    """``A = f(X W + b)`` for a :class:`Dense` layer and the :class:`Activation` that follows it."""

    def __init__(self, dense: Dense, activation: Activation):
        self.dense = dense
        self.activation = activation

    def forward(self, X, training):
        Z = self.dense.product(X, training, add_bias=False)
        self.A = self.dense.kernels.bias_activation(self.activation.kind, Z, self.dense.params.get("b"),
                                                    **self.activation.get_config())
        return self.A

    def backward(self, dA, need_dX=True):
        activation, kernels = self.activation, self.dense.kernels
        dZ = kernels.activation_bias_backward(activation.kind, dA, self.A, self.dense.grads.get("b"),
                                              activation.buffer("dZ", self.A.shape, True),
                                              **activation.get_config())
        return self.dense.product_backward(dZ, need_dX, sum_bias=False)


def stages(layers: list, kernels) -> list:
    """The layers in running order, each Dense directly followed by an activation the kernels fuse
    (exactly :class:`Dense`, then exactly :class:`ReLU` or :class:`LeakyReLU`) merged into one stage."""
    fusable = {cls for cls in (ReLU, LeakyReLU) if cls.kind in kernels.fused_activations}
    result, index = [], 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if type(layer) is Dense and type(following) in fusable:
            result.append(DenseActivation(layer, following))
            index += 2
        else:
            result.append(layer)
            index += 1
    return result

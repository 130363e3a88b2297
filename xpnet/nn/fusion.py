"""Fusion: a Dense layer and the activation right after it run as one stage where the kernels have a
fast version of the fused step.

Run separately, the pair passes over its ``(m, k)`` activations four times forward (write
``Z = X W``, add ``b``, read Z and write ``A = f(Z)``) and four times backward (read ``dA`` and Z,
write ``dZ``, sum it for ``db``). As one stage:

    forward   A = f(X W + b)                              the product, then one pass over it
    backward  dZ = dA * f'(A),  db = sum_m dZ             one pass
              dW = X^T dZ,  dX = dZ W^T

``f'`` is read off the output A, which is exact for ReLU and LeakyReLU (``A > 0`` exactly where
``Z > 0``). The layers keep their parameters, names and configuration; only the order of work
changes. Subclasses of the layers are left unfused, so one that overrides forward or backward
keeps its own; the reference kernels never fuse, so the reference model runs layer by layer.
"""
from __future__ import annotations

from xpnet.nn.layers import Dense, LeakyReLU, ReLU


class DenseActivation:
    """``A = f(X W + b)`` for a :class:`Dense` layer and the :class:`Activation` that follows it."""

    def __init__(self, dense: Dense, activation: ReLU | LeakyReLU):
        self.dense = dense
        self.activation = activation

    def forward(self, X, workspace, training):
        dense = self.dense
        workspace.saved[dense, "X"] = X
        A = self.activation.dense_activate(X, dense.params["W"], dense.params.get("b"),
                                           out=workspace.get(self, "A", dense.output_shape(X)))
        workspace.saved[self, "A"] = A
        return A

    def backward(self, dA, workspace, need_dX=True):
        A = workspace.saved[self, "A"]
        dZ, _ = self.activation.bias_derivative(
            dA, A, out=(workspace.get(self, "dZ", A.shape), self.dense.grads.get("b")))
        return self.dense.product_backward(dZ, workspace, need_dX)


def stages(layers: list, kernels) -> list:
    """The layers in running order, each Dense directly followed by an activation whose fused step the
    kernels make fast (exactly :class:`Dense`, then exactly :class:`ReLU` or :class:`LeakyReLU`)
    merged into one stage."""
    result, index = [], 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        activation = following if isinstance(following, (ReLU, LeakyReLU)) else None
        if (type(layer) is Dense and type(activation) in (ReLU, LeakyReLU)  # exactly: not subclasses
                and activation is not None and kernels.is_fast(activation.fused_op)):
            result.append(DenseActivation(layer, activation))
            index += 2
        else:
            result.append(layer)
            index += 1
    return result

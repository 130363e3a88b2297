"""torch autograd as the independent oracle: the same math, differentiated automatically, in float64."""
from __future__ import annotations

import numpy as np
import torch


def tensor(values, grad=False):
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def gradients(function, *inputs):
    """Value of ``function(*tensors)`` and the gradient of ``sum(value * upstream)`` w.r.t. each input.

    Returns ``(value, [grad per input])`` as NumPy arrays; inputs are NumPy arrays.
    """
    tensors = [tensor(x, grad=True) for x in inputs]
    value = function(*tensors)
    upstream = torch.from_numpy(np.random.default_rng(99).standard_normal(tuple(value.shape)))
    (value * upstream).sum().backward()
    return value.detach().numpy(), [t.grad.numpy() for t in tensors], upstream.numpy()


ACTIVATIONS = {
    "ReLU": torch.relu,
    "LeakyReLU": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "Tanh": torch.tanh,
    "Sigmoid": torch.sigmoid,
}


def loss_value(name, Z, Y):
    """Our losses written with torch: cost averaged over the m rows (sum over outputs)."""
    m = Z.shape[0]
    if name == "binary_cross_entropy":
        return torch.nn.functional.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / m
    if name == "softmax_cross_entropy":
        return -(Y * torch.log_softmax(Z, dim=1)).sum() / m
    return torch.nn.functional.mse_loss(Z, Y)


def torch_network(model):
    """A torch function of (X, *params) mirroring an xpnet Sequential layer by layer."""
    from xpnet.layers import Activation, BatchNorm, Dense

    def forward(X, params):
        A = X
        for i, layer in enumerate(model.layers):
            if isinstance(layer, Dense):
                A = A @ params[f"{i}.W"] + (params[f"{i}.b"] if f"{i}.b" in params else 0.0)
            elif isinstance(layer, Activation):
                A = ACTIVATIONS[type(layer).__name__](A)
            elif isinstance(layer, BatchNorm):
                mean = A.mean(dim=0, keepdim=True)
                var = ((A - mean) ** 2).mean(dim=0, keepdim=True)
                A = (A - mean) / torch.sqrt(var + layer.eps) * params[f"{i}.gamma"] + params[f"{i}.beta"]
            else:
                raise TypeError(f"no torch mirror for {layer!r}")
        return A

    return forward

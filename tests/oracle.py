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
    from xpnet.nn.layers import Activation, BatchNorm, Dense

    def forward(X, params):
        A = X
        for i, layer in enumerate(model.layers):
            if isinstance(layer, Dense):
                A = A @ params[f"{i}.W"] + params.get(f"{i}.b", 0.0)
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


def problem(loss, m=16, n=5, k=3, seed=0):
    """``(X, Y, outputs)``: random features and targets of the form ``loss`` takes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    if loss == "binary_cross_entropy":
        return X, (rng.random((m, 1)) > 0.5).astype(float), 1
    if loss == "softmax_cross_entropy":
        return X, np.eye(k)[rng.integers(0, k, m)], k
    return X, rng.standard_normal((m, k)), k


def network_gradients(model, X, Y, loss, l2=0.0):
    """Cost and d cost / d params computed by torch autograd on the model's current weights, with the
    L2 penalty ``l2 / (2 m) * sum(W^2)`` over Dense weights."""
    params = {name: tensor(value, grad=True) for name, value in model.param_buffer.to_host().items()}
    cost = loss_value(loss, torch_network(model)(tensor(X), params), tensor(Y))
    weights = [p for name, p in params.items() if name.endswith(".W")]
    cost = cost + l2 / (2 * X.shape[0]) * sum((W ** 2).sum() for W in weights)
    cost.backward()
    return cost.item(), {name: p.grad.numpy() for name, p in params.items()}

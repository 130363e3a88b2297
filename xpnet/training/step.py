"""One training step on a mini-batch already on the device: forward, loss, backward, L2, update.

Every result lands in the model's training workspace or in its gradient buffer, and nothing is read
back to the host: costs stay device values, summed once per epoch by the loop.
"""
from __future__ import annotations


def loss_and_gradients(model, X, Y, loss, l2, weights=None):
    """A training-mode forward and backward pass; ``model.grads`` then holds
    ``d(data_cost + l2_penalty)/d(params)``. ``weights`` (``(m, 1)`` or None) weigh the samples' losses.

    Returns ``(data_cost, l2_penalty, logits)`` as device values (the penalty is None without L2)."""
    kernels, workspace = model.backend.kernels, model.workspace
    logits = model.forward(X, training=True)
    cost, grad = loss.value_and_grad(kernels, logits, Y, weights, out=(
        workspace.get("loss", "cost", model.lead), workspace.get("loss", "dZ", logits.shape)))
    model.backward(grad, need_input_grad=False)
    if not l2.active:
        return cost, None, logits
    m = X.shape[-2]
    l2.add_gradient(kernels, model.param_buffer, model.grad_buffer, m)
    return cost, l2.penalty(kernels, model.param_buffer, m, out=workspace.get("loss", "l2", model.lead)), logits


def train_step(model, X, Y, loss, optimizer, l2, weights=None):
    """One mini-batch update: :func:`loss_and_gradients`, then the optimizer's step.
    Returns ``(data_cost, l2_penalty, logits)`` as device values, without synchronizing."""
    with model.backend.activate():
        cost, penalty, logits = loss_and_gradients(model, X, Y, loss, l2, weights)
        optimizer.step(model.param_buffer, model.grad_buffer, model.epoch)
    return cost, penalty, logits


def training_cost(model, X, Y, loss, l2) -> float:
    """``data_cost + l2_penalty`` of a training-mode forward pass (no backward), as a host float
    (one model)."""
    kernels = model.backend.kernels
    cost, _ = loss.value_and_grad(kernels, model.forward(X, training=True), Y)
    if l2.active:
        cost = cost + l2.penalty(kernels, model.param_buffer, X.shape[-2])
    return float(cost)

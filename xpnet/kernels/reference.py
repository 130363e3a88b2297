"""The reference kernels: every formula of the network, its losses and its update rules, written once
as plain array-API code. Fast paths (``numpy.py``, ``numba.py``, ``cupy.py``) replace some of these
functions and are tested against them; this module is the definition.

Conventions, shared by every kernel:

* ``xp`` (the array namespace) comes first, then the inputs; options are keyword-only (``alpha=``).
* Results go into buffers passed as the keyword-only ``out=``: one array, or a tuple of arrays in the
  order the docstring gives. Without ``out`` a kernel allocates its results. An entry of an ``out``
  tuple that is documented as optional may be None: that result is then not computed.
* Update rules (``*_update``, ``add_l2_grad``, ``decay_weights``, ``ewa_update``) change the arrays they
  are given in place instead, and return nothing.
* Shapes: samples on axis -2, features on axis -1. Leading axes (a population of P models stacked as
  ``(P, m, n)`` with weights ``(P, n, k)``) broadcast through unchanged, and every hyperparameter may
  be a number or an array broadcasting against its operand (one value per model, ``(P, 1)``).
"""
from __future__ import annotations

import math


def _written(out, value):
    """``value``, copied into ``out`` when the caller gave a buffer."""
    if out is None:
        return value
    out[...] = value
    return out


def _rows(xp, vector):
    """``(..., n) -> (..., 1, n)``: a per-feature vector broadcast over the sample axis."""
    return xp.expand_dims(vector, axis=-2)


# Exponentially weighted averages ----------------------------------------------------------------

def ewa_update(xp, average, value, *, beta):
    """In place: ``average = beta * average + (1 - beta) * value``."""
    average *= beta
    average += (1.0 - beta) * value


def bias_correction(beta, t):
    """``1 - beta^t``: an average started at 0 is divided by this after ``t`` updates."""
    return 1.0 - beta ** t


# Dense: Z = X W + b -------------------------------------------------------------------------------

def dense_forward(xp, X, W, b, *, out=None):
    """``Z = X W + b`` for X ``(..., m, n_in)``, W ``(..., n_in, n_out)``, b ``(..., n_out)`` or None."""
    Z = xp.matmul(X, W)
    if b is not None:
        Z = Z + _rows(xp, b)
    return _written(out, Z)


def weight_grad(xp, X, dZ, *, out=None):
    """``dW = X^T dZ``."""
    return _written(out, xp.matmul(xp.matrix_transpose(X), dZ))


def bias_grad(xp, dZ, *, out=None):
    """``db = sum over the samples of dZ``."""
    return _written(out, xp.sum(dZ, axis=-2))


def input_grad(xp, dZ, W, *, out=None):
    """``dX = dZ W^T``."""
    return _written(out, xp.matmul(dZ, xp.matrix_transpose(W)))


# Activations: A = f(Z); backward dZ = dA * f'(Z) ------------------------------------------------------

def relu(xp, Z, *, out=None):
    """``max(Z, 0)``."""
    return _written(out, xp.maximum(Z, 0.0))


def relu_backward(xp, dA, Z, *, out=None):
    """``dA * [Z > 0]`` (a multiply by the 0/1 mask: ``where`` is several times slower on CPUs)."""
    return _written(out, dA * xp.astype(Z > 0, dA.dtype))


def leaky_relu(xp, Z, *, alpha, out=None):
    """``Z`` where positive, ``alpha * Z`` elsewhere: ``max(Z, alpha Z)`` for ``0 <= alpha <= 1``."""
    return _written(out, xp.maximum(Z, alpha * Z))


def leaky_relu_backward(xp, dA, Z, *, alpha, out=None):
    """``dA`` where ``Z > 0``, ``alpha * dA`` elsewhere: ``dA * (alpha + (1 - alpha) [Z > 0])``."""
    return _written(out, dA * (alpha + (1.0 - alpha) * xp.astype(Z > 0, dA.dtype)))


def tanh(xp, Z, *, out=None):
    """``tanh(Z)``."""
    return _written(out, xp.tanh(Z))


def tanh_backward(xp, dA, A, *, out=None):
    """``dA * (1 - A^2)`` with ``A = tanh(Z)``."""
    return _written(out, dA * (1.0 - A * A))


def sigmoid(xp, Z, *, out=None):
    """``1 / (1 + exp(-Z))``, computed as ``(tanh(Z / 2) + 1) / 2`` so it never overflows."""
    return _written(out, 0.5 * (xp.tanh(0.5 * Z) + 1.0))


def sigmoid_backward(xp, dA, A, *, out=None):
    """``dA * A * (1 - A)`` with ``A = sigmoid(Z)``."""
    return _written(out, dA * A * (1.0 - A))


# A Dense layer and the (leaky) ReLU after it, as one step --------------------------------------------
# The backward pass reads the derivative off the output A: A > 0 exactly where X W + b > 0 (for
# 0 <= alpha <= 1).

def dense_relu(xp, X, W, b, *, out=None):
    """``relu(X W + b)`` (b may be None)."""
    return relu(xp, dense_forward(xp, X, W, b), out=out)


def dense_leaky_relu(xp, X, W, b, *, alpha, out=None):
    """``leaky_relu(X W + b)`` (b may be None)."""
    return leaky_relu(xp, dense_forward(xp, X, W, b), alpha=alpha, out=out)


def relu_bias_backward(xp, dA, A, *, out=None):
    """``out = (dZ, db)``: ``dZ = relu_backward(dA, A)`` and ``db = bias_grad(dZ)`` (db optional)."""
    return _and_bias_grad(xp, relu_backward(xp, dA, A, out=None if out is None else out[0]), out)


def leaky_relu_bias_backward(xp, dA, A, *, alpha, out=None):
    """``out = (dZ, db)``: ``dZ = leaky_relu_backward(dA, A)`` and ``db = bias_grad(dZ)`` (db optional)."""
    dZ = leaky_relu_backward(xp, dA, A, alpha=alpha, out=None if out is None else out[0])
    return _and_bias_grad(xp, dZ, out)


def _and_bias_grad(xp, dZ, out):
    """``(dZ, db)``, with db computed unless ``out`` gives None in its place."""
    if out is not None and out[1] is None:
        return dZ, None
    return dZ, bias_grad(xp, dZ, out=None if out is None else out[1])


# Inverted dropout ----------------------------------------------------------------------------------

def dropout_mask(xp, uniform, *, keep_prob, out=None):
    """The scaled mask ``[U < keep_prob] / keep_prob`` from uniform draws ``U`` in [0, 1)."""
    return _written(out, xp.astype(uniform < keep_prob, uniform.dtype) / keep_prob)


def dropout(xp, A, mask, *, out=None):
    """``A * mask``: dropped units are zero, kept ones scaled by ``1 / keep_prob``. The backward pass
    is the same product with the gradient: ``dA * mask``."""
    return _written(out, A * mask)


def dropout_forward(xp, A, uniform, *, keep_prob, out=None):
    """``out = (A * mask, mask)`` with a fresh :func:`dropout_mask` from ``uniform``."""
    result, mask = out if out is not None else (None, None)
    mask = dropout_mask(xp, uniform, keep_prob=keep_prob, out=mask)
    return dropout(xp, A, mask, out=result), mask


# Batch normalization -------------------------------------------------------------------------------

def batchnorm_statistics(xp, Z, *, out=None):
    """``out = (mean, var)``: per-feature batch mean and biased variance (1/m), each ``(..., 1, n)``."""
    mean_out, var_out = out if out is not None else (None, None)
    mean = _written(mean_out, xp.mean(Z, axis=-2, keepdims=True))
    centered = Z - mean
    return mean, _written(var_out, xp.mean(centered * centered, axis=-2, keepdims=True))


def batchnorm_forward(xp, Z, mean, var, gamma, beta, *, eps, out=None):
    """``out = (gamma * Z_hat + beta, Z_hat, inv_std)`` with ``inv_std = 1 / sqrt(var + eps)`` and
    ``Z_hat = (Z - mean) * inv_std``; mean and var ``(..., 1, n)`` (the batch statistics in training,
    the running ones in evaluation), gamma and beta ``(..., n)``."""
    result, Z_hat, inv_std = out if out is not None else (None, None, None)
    inv_std = _written(inv_std, 1.0 / xp.sqrt(var + eps))
    Z_hat = _written(Z_hat, (Z - mean) * inv_std)
    return _written(result, Z_hat * _rows(xp, gamma) + _rows(xp, beta)), Z_hat, inv_std


def batchnorm_running_update(xp, running_mean, running_var, mean, var, *, momentum, m):
    """In place, one exponentially weighted step of the running statistics towards the batch's:
    ``running_mean`` towards ``mean`` and ``running_var`` towards the unbiased ``var * m / (m - 1)``,
    with ``momentum`` the weight on the old value; mean and var ``(..., 1, n)``, running ``(..., n)``."""
    ewa_update(xp, running_mean, mean[..., 0, :], beta=momentum)
    ewa_update(xp, running_var, var[..., 0, :] * (m / (m - 1)), beta=momentum)


def batchnorm_backward(xp, dout, Z_hat, inv_std, gamma, *, out=None):
    """``out = (dZ, dgamma, dbeta)``, the closed-form gradients of training-mode batch norm:
    ``dbeta = sum_m dout``, ``dgamma = sum_m dout * Z_hat`` and
    ``dZ = gamma * inv_std / m * (m * dout - dbeta - Z_hat * dgamma)``."""
    dZ, dgamma, dbeta = out if out is not None else (None, None, None)
    m = dout.shape[-2]
    dbeta = _written(dbeta, xp.sum(dout, axis=-2))
    dgamma = _written(dgamma, xp.sum(dout * Z_hat, axis=-2))
    scale = _rows(xp, gamma) * inv_std * (1.0 / m)
    return _written(dZ, scale * (m * dout - _rows(xp, dbeta) - Z_hat * _rows(xp, dgamma))), dgamma, dbeta


# Losses from logits Z and targets Y (..., m, k): the cost averaged over the m samples (one value per
# stacked model) and its gradient dZ. Folding the output activation into the loss gives the stable
# gradient dZ = (A - Y) / m for both cross-entropies.
#
# Optional per-sample weights w, shape (m, 1) (shared by stacked models), weigh each sample's loss:
# cost = sum_i w_i loss_i / m and dZ_i = w_i (A_i - Y_i) / m. The weighted sum is divided by the number
# of samples, not by the sum of the weights (Keras' choice, not PyTorch's class-weighted mean): a
# mini-batch's cost times its size is then its share of the whole data set's weighted cost, so the
# epoch's size-weighted mean of batch costs (History) and evaluation in chunks give exactly
# sum_i w_i loss_i / m over all m samples, and w = 1 gives the unweighted loss.

def _weighted(values, weights):
    """``values * weights`` (per-sample weights ``(m, 1)``), or ``values`` when ``weights`` is None."""
    return values if weights is None else values * weights


def binary_cross_entropy(xp, Z, Y, weights=None, *, out=None):
    """``out = (cost, dZ)``: ``-1/m sum w (y log a + (1 - y) log(1 - a))`` with ``a = sigmoid(z)``,
    computed as ``max(z, 0) - z y + log(1 + exp(-|z|))``; ``dZ = w (sigmoid(Z) - Y) / m``."""
    cost, dZ = out if out is not None else (None, None)
    m = Z.shape[-2]
    per_entry = xp.maximum(Z, 0.0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
    cost = _written(cost, xp.sum(_weighted(per_entry, weights), axis=(-2, -1)) / m)
    return cost, _written(dZ, _weighted(sigmoid(xp, Z) - Y, weights) / m)


def softmax(xp, Z, *, out=None):
    """``exp(Z) / sum_k exp(Z)`` per row, shifted by the row maximum so it never overflows."""
    shifted = xp.exp(Z - xp.max(Z, axis=-1, keepdims=True))
    return _written(out, shifted / xp.sum(shifted, axis=-1, keepdims=True))


def softmax_cross_entropy(xp, Z, Y, weights=None, *, out=None):
    """``out = (cost, dZ)``: ``-1/m sum w Y * log softmax(Z)`` with one-hot (or probability) rows Y;
    ``dZ = w (softmax(Z) - Y) / m``."""
    cost, dZ = out if out is not None else (None, None)
    m = Z.shape[-2]
    shifted = Z - xp.max(Z, axis=-1, keepdims=True)
    exp = xp.exp(shifted)
    total = xp.sum(exp, axis=-1, keepdims=True)
    cost = _written(cost, -xp.sum(_weighted(Y * (shifted - xp.log(total)), weights), axis=(-2, -1)) / m)
    return cost, _written(dZ, _weighted(exp / total - Y, weights) / m)


def mean_squared_error(xp, Z, Y, weights=None, *, out=None):
    """``out = (cost, dZ)``: ``1/(m k) sum w (Z - Y)^2`` (the mean over every entry, as in PyTorch and
    Keras); ``dZ = 2 w (Z - Y) / (m k)``."""
    cost, dZ = out if out is not None else (None, None)
    count = Z.shape[-2] * Z.shape[-1]
    diff = Z - Y
    cost = _written(cost, xp.sum(_weighted(diff * diff, weights), axis=(-2, -1)) / count)
    return cost, _written(dZ, _weighted(diff, weights) * (2.0 / count))


def binary_correct(xp, Z, Y, *, out=None):
    """Correct predictions ``[Z > 0] == [Y > 0.5]``, summed over samples and averaged over outputs."""
    hits = xp.astype((Z > 0) == (Y > 0.5), Z.dtype)
    return _written(out, xp.sum(hits, axis=(-2, -1)) / Z.shape[-1])


def softmax_correct(xp, Z, Y, *, out=None):
    """Samples whose largest logit is at the target's class: ``sum [argmax Z == argmax Y]``."""
    hits = xp.argmax(Z, axis=-1) == xp.argmax(Y, axis=-1)
    return _written(out, xp.sum(xp.astype(hits, Z.dtype), axis=-1))


# L2 regularization of the Dense weights W (flat, one row per model) --------------------------------

def l2_penalty(xp, W, *, l2, m, out=None):
    """``l2 / (2 m) * sum(W^2)`` over the last axis (one value per model)."""
    return _written(out, (l2 / (2 * m)) * xp.vecdot(W, W))


def add_l2_grad(xp, dW, W, *, l2, m):
    """In place: ``dW += (l2 / m) W``, the gradient of :func:`l2_penalty`."""
    dW += (l2 / m) * W


# Update rules, in place on flat buffers: p parameters, g gradient, v/s first/second moments ----------

def sgd_update(xp, p, g, *, lr):
    """``p -= lr g``."""
    p -= lr * g


def momentum_update(xp, p, g, v, *, lr, beta, nesterov):
    """``v = beta v + (1 - beta) g``; ``p -= lr v`` (Nesterov: ``p -= lr (beta v + (1 - beta) g)``)."""
    ewa_update(xp, v, g, beta=beta)
    if nesterov:
        p -= lr * (beta * v + (1.0 - beta) * g)
    else:
        p -= lr * v


def rmsprop_update(xp, p, g, s, *, lr, beta, eps):
    """``s = beta s + (1 - beta) g^2``; ``p -= lr g / (sqrt(s) + eps)``."""
    ewa_update(xp, s, g * g, beta=beta)
    p -= lr * g / (xp.sqrt(s) + eps)


def adam_step_sizes(lr, beta1, beta2, t):
    """``(lr / (1 - beta1^t), sqrt(1 - beta2^t))``: Adam's bias corrections after ``t`` updates, as the
    two numbers its update uses (numbers, or NumPy arrays with one value per model)."""
    return lr / bias_correction(beta1, t), bias_correction(beta2, t) ** 0.5


def adam_update(xp, p, g, v, s, *, step, root2, beta1, beta2, eps):
    """Moments as in momentum and RMSprop, then ``p -= lr v_hat / (sqrt(s_hat) + eps)`` with
    ``v_hat = v / (1 - beta1^t)`` and ``s_hat = s / (1 - beta2^t)``, computed as
    ``p -= step v / (sqrt(s) / root2 + eps)`` with ``(step, root2)`` from :func:`adam_step_sizes`."""
    ewa_update(xp, v, g, beta=beta1)
    ewa_update(xp, s, g * g, beta=beta2)
    p -= step * v / (xp.sqrt(s) / root2 + eps)


def decay_weights(xp, p, *, lr, weight_decay):
    """Decoupled weight decay (AdamW): ``p *= 1 - lr * weight_decay``."""
    p *= 1.0 - lr * weight_decay


def zero_rows(xp, g, frozen, *, out):
    """``out = 0`` in the rows of a population's models that ``frozen`` ``(P, 1)`` marks (nonzero),
    ``g`` elsewhere: a frozen model's gradient is dropped, even NaN or inf (0 times NaN stays NaN)."""
    return _written(out, xp.where(frozen != 0, xp.zeros_like(g), g))


# Random numbers: SplitMix64 as a counter-based stream --------------------------------------------------
# Draw number n of the stream keyed ``key`` (counting from 0 over the stream's whole life) is, mod 2^64,
#     z = key + (n + 1) * 0x9E3779B97F4A7C15
#     z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
#     z = (z ^ (z >> 27)) * 0x94D049BB133111EB
#     z = z ^ (z >> 31)
# so a stream's whole state is ``key`` and a ``counter`` of draws made, kept on the device (a 0-d uint64
# array) so that drawing never reads back to the host.

GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def splitmix64(xp, key: int, numbers):
    """The draws ``numbers`` (a uint64 array) of the stream ``key``."""
    def word(value):
        return xp.asarray(value, dtype=xp.uint64, device=numbers.device)

    z = (numbers + word(1)) * word(GOLDEN) + word(key)
    z = (z ^ (z >> 30)) * word(MIX1)
    z = (z ^ (z >> 27)) * word(MIX2)
    return z ^ (z >> 31)


def random_bits(xp, counter, *, key, out):
    """``out`` (uint64, required: it gives the count) = the draws ``counter, counter + 1, ...``; the
    counter is not advanced (see :func:`increment`)."""
    numbers = xp.arange(math.prod(out.shape), dtype=xp.uint64, device=counter.device) + counter
    return _written(out, xp.reshape(splitmix64(xp, key, numbers), out.shape))


def random_uniform(xp, counter, *, key, out):
    """``out`` (required: it gives shape and dtype) = uniforms in [0, 1) from the draws at ``counter``:
    the top 24 bits times 2^-24 for float32, the top 53 bits times 2^-53 for float64."""
    z = random_bits(xp, counter, key=key, out=xp.empty(out.shape, dtype=xp.uint64, device=counter.device))
    if out.dtype == xp.float32:
        return _written(out, xp.astype(z >> 40, xp.float32) * 2.0 ** -24)
    return _written(out, xp.astype(z >> 11, xp.float64) * 2.0 ** -53)


def increment(xp, counter, *, by=1):
    """In place: ``counter += by`` (a 0-d counter on the device)."""
    counter += by


# The training step as a fixed program: every per-step value is read on the device at the iteration
# counter ``it`` (a 0-d int64 array), so one recorded step can be replayed for every mini-batch.

def gather_rows(xp, X, order, it, *, stride, out):
    """``out (m, n)`` = rows ``order[it * stride + r]`` of ``X`` for ``r = 0 .. m - 1`` (rows
    ``it * stride + r`` when ``order`` is None): mini-batch ``it`` of an epoch in shuffled order."""
    positions = it * stride + xp.arange(out.shape[0], dtype=xp.int64, device=X.device)
    rows = positions if order is None else xp.take(order, positions)
    return _written(out, xp.take(X, rows, axis=0))


def select_row(xp, table, it, *, out):
    """``out = table[it]``: this step's row of a table with one row per step."""
    return _written(out, xp.reshape(xp.take(table, xp.reshape(it, (1,)), axis=0), out.shape))


def record_at(xp, series, value, it):
    """In place: ``series[it] = value`` (series ``(steps,) + value.shape``)."""
    steps = xp.arange(series.shape[0], dtype=xp.int64, device=series.device)
    chosen = xp.reshape(steps == it, (series.shape[0],) + (1,) * (series.ndim - 1))
    series[...] = xp.where(chosen, value, series)

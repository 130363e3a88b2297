"""CuPy fast path: one fused ElementwiseKernel per elementwise chain, compiled once per dtype and cached.

Matrix products write into reusable buffers (inherited from the NumPy fast path, which calls CuPy's
identically named functions). Each optimizer update, activation backward, dropout, the elementwise
parts of batch norm, and a Dense layer's bias with the (leaky) ReLU after it are a single kernel launch
instead of a chain of whole-array operations, each of which would read and write the whole buffer again.
"""
from __future__ import annotations

import cupy

from xpnet.fast.numpy import NumpyKernels

_ACTIVATION_BACKWARD = {
    "relu": cupy.ElementwiseKernel("T dA, T Z", "T dZ", "dZ = Z > 0 ? dA : (T)0", "xpnet_relu_backward"),
    "leaky_relu": cupy.ElementwiseKernel("T dA, T Z, T alpha", "T dZ", "dZ = Z > 0 ? dA : alpha * dA",
                                         "xpnet_leaky_relu_backward"),
    "tanh": cupy.ElementwiseKernel("T dA, T A", "T dZ", "dZ = dA * ((T)1 - A * A)", "xpnet_tanh_backward"),
    "sigmoid": cupy.ElementwiseKernel("T dA, T A", "T dZ", "dZ = dA * A * ((T)1 - A)",
                                      "xpnet_sigmoid_backward"),
}
# A Dense layer's bias and the (leaky) ReLU after it, written over Z in place (see xpnet.fusion); the
# backward reuses the kernels above with the output A in place of Z (A > 0 exactly where Z > 0).
_BIAS_ACTIVATION = {
    "relu": cupy.ElementwiseKernel("T b", "T Z", "T v = Z + b; Z = v > 0 ? v : (T)0", "xpnet_bias_relu"),
    "leaky_relu": cupy.ElementwiseKernel("T b, T alpha", "T Z", "T v = Z + b; Z = v > 0 ? v : alpha * v",
                                         "xpnet_bias_leaky_relu"),
}
_dropout = cupy.ElementwiseKernel(
    "T A, T u, T keep", "T out, T mask",
    "mask = u < keep ? (T)1 / keep : (T)0; out = A * mask", "xpnet_dropout")
_batchnorm_normalize = cupy.ElementwiseKernel(
    "T Z, T mean, T inv_std, T gamma, T beta", "T out, T Z_hat",
    "Z_hat = (Z - mean) * inv_std; out = gamma * Z_hat + beta", "xpnet_batchnorm_normalize")
_batchnorm_backward = cupy.ElementwiseKernel(
    "T dout, T Z_hat, T scale, T dbeta, T dgamma, T m", "T dZ",
    "dZ = scale * (m * dout - dbeta - Z_hat * dgamma)", "xpnet_batchnorm_backward")
_sgd = cupy.ElementwiseKernel("T g, T lr", "T p", "p -= lr * g", "xpnet_sgd")
_momentum = cupy.ElementwiseKernel(
    "T g, T lr, T beta, bool nesterov", "T p, T v",
    "v = beta * v + ((T)1 - beta) * g;"
    "p -= nesterov ? lr * (beta * v + ((T)1 - beta) * g) : lr * v", "xpnet_momentum")
_rmsprop = cupy.ElementwiseKernel(
    "T g, T lr, T beta, T eps", "T p, T s",
    "s = beta * s + ((T)1 - beta) * g * g; p -= lr * g / (sqrt(s) + eps)", "xpnet_rmsprop")
_adam = cupy.ElementwiseKernel(
    "T g, T step, T beta1, T beta2, T eps, T root_correction2", "T p, T v, T s",
    "v = beta1 * v + ((T)1 - beta1) * g; s = beta2 * s + ((T)1 - beta2) * g * g;"
    "p -= step * v / (sqrt(s) / root_correction2 + eps)", "xpnet_adam")


def _call(kernel, inputs, out):
    """Run ``kernel``: CuPy takes either every output array or none (then it allocates)."""
    return kernel(*inputs) if out is None else kernel(*inputs, out)


class CupyKernels(NumpyKernels):
    """Fused CuPy kernels; anything not replaced here is the reference array-API code."""

    name = "cupy"
    module = cupy
    fused_activations = frozenset(_BIAS_ACTIVATION)

    def activation_backward(self, name, dA, Z, A, out=None, **options):
        inputs = (dA, Z, *options.values()) if name in ("relu", "leaky_relu") else (dA, A)
        return _call(_ACTIVATION_BACKWARD[name], inputs, out)

    def bias_activation(self, name, Z, b, **options):
        bias = 0.0 if b is None else cupy.expand_dims(b, -2)
        _BIAS_ACTIVATION[name](bias, *options.values(), Z)
        return Z

    def activation_bias_backward(self, name, dA, A, db, out, **options):
        dZ = self.activation_backward(name, dA, A, A, out, **options)
        if db is not None:
            cupy.sum(dZ, axis=-2, out=db)
        return dZ

    def dropout_forward(self, A, uniform, keep_prob, out=None):
        return _dropout(A, uniform, keep_prob)

    def dropout_backward(self, dA, mask, out=None):
        return cupy.multiply(dA, mask, out=out)

    def batchnorm_normalize(self, Z, mean, var, gamma, beta, eps):
        inv_std = 1.0 / cupy.sqrt(var + eps)
        out, Z_hat = _batchnorm_normalize(Z, mean, inv_std, cupy.expand_dims(gamma, -2),
                                          cupy.expand_dims(beta, -2))
        return out, Z_hat, inv_std

    def batchnorm_backward(self, dout, Z_hat, inv_std, gamma):
        m = dout.shape[-2]
        dbeta = cupy.sum(dout, axis=-2)
        dgamma = cupy.sum(dout * Z_hat, axis=-2)
        scale = cupy.expand_dims(gamma, -2) * inv_std * (1.0 / m)
        dZ = _batchnorm_backward(dout, Z_hat, scale, cupy.expand_dims(dbeta, -2),
                                 cupy.expand_dims(dgamma, -2), m)
        return dZ, dgamma, dbeta

    def sgd_update(self, p, g, lr):
        _sgd(g, lr, p)

    def momentum_update(self, p, g, v, lr, beta, nesterov):
        _momentum(g, lr, beta, nesterov, p, v)

    def rmsprop_update(self, p, g, s, lr, beta, eps):
        _rmsprop(g, lr, beta, eps, p, s)

    def adam_update(self, p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2):
        _adam(g, lr / correction1, beta1, beta2, eps, root_correction2, p, v, s)

"""Gradient checking: back-propagation against two-sided differences, for a correct network and for
one with a planted bug.

``xn.gradient_check`` perturbs every parameter by +-eps, compares the numerical gradient with the
back-propagated one and reports ``||grad - approx|| / (||grad|| + ||approx||)`` overall and per
parameter array; below 2e-7 passes. The planted bug is a Tanh layer whose backward pass multiplies by
``1 - A`` instead of ``1 - A^2``: the check fails, and only for the parameters below the faulty layers
(the last Dense layer's gradient does not pass through them and stays correct).

Figure: gradient_checking.png (the relative difference per parameter array, log scale).
"""
import common
import numpy as np

import xpnet as xn


class TanhWithWrongDerivative(xn.Tanh):
    """A Tanh layer whose backward uses ``f'(Z) = 1 - A`` (the correct one is ``1 - A^2``).

    An activation layer's backward pass writes ``dZ = dA * f'`` into ``out`` from the upstream
    gradient ``dA`` and the layer's input ``Z`` and output ``A``; this one gets ``f'`` wrong.
    """

    def derivative(self, dA, Z, A, out):
        out[...] = dA * (1 - A)
        return out


def network(activation) -> list:
    return [xn.Dense(5), activation(), xn.Dense(3), activation(), xn.Dense(1)]


def difference_chart(reports: dict):
    """One group of bars per parameter array, one bar per model, and the pass threshold."""
    figure, (ax,) = common.side_by_side(1, width=7.0, height=4.0)
    names = list(next(iter(reports.values())).per_parameter)
    width = 0.8 / len(reports)
    for index, (label, report) in enumerate(reports.items()):
        positions = np.arange(len(names)) + (index - (len(reports) - 1) / 2) * width
        ax.bar(positions, [report.per_parameter[name] for name in names], width, label=label)
    ax.axhline(next(iter(reports.values())).threshold, color="black", linestyle="--", label="threshold")
    ax.set(xticks=range(len(names)), xticklabels=names, yscale="log", xlabel="parameter array",
           ylabel="relative difference")
    ax.legend()
    return figure


def main():
    args = common.options(__doc__)
    samples = 4 if args.smoke else 32
    X, y, _, _ = xn.datasets.moons()
    X, y = X[:samples], y[:samples]
    reports = {}
    for label, activation in {"correct": xn.Tanh, "planted bug": TanhWithWrongDerivative}.items():
        model = xn.Sequential(network(activation), input_dim=2, seed=0)
        reports[label] = xn.gradient_check(model, X, y, loss="binary_cross_entropy", l2=0.1)
        print(f"{label}: {reports[label]}")
        print("  largest errors (parameter, index, backprop, numerical):")
        for name, index, grad, approx in reports[label].worst[:3]:
            print(f"    {name:<4} {str(index):<8} {grad: .6e} {approx: .6e}")
    common.save(difference_chart(reports), args, "gradient_checking.png")


if __name__ == "__main__":
    main()

"""Optimization on two moons: batch vs mini-batch vs stochastic gradient descent, then gradient
descent vs momentum vs Adam.

The network is 2-5-2-1 with ReLU (He initialization), the cost binary cross-entropy. Part one trains
with plain gradient descent (lr 0.05) for the same number of epochs on batches of all 240 examples
(one update per epoch), of 64 (four) and of one (240): smaller batches make more, noisier updates per
epoch. Part two uses mini-batches of 64 and lr 0.003 for every optimizer. Momentum here averages the
gradients (``v = beta v + (1 - beta) dW``), so with the same learning rate its steps have the same
size as gradient descent's and the two end close together; Adam scales each parameter's step by its
gradients' recent magnitude and gets much further in the same number of epochs.

Figures: optimization_batch_size_cost.png, optimization_batch_size_boundaries.png,
optimization_optimizers_cost.png, optimization_optimizers_boundaries.png.
"""
import time

import common

import xpnet as xn


def network() -> list:
    return [xn.Dense(5), xn.ReLU(), xn.Dense(2), xn.ReLU(), xn.Dense(1)]


def compare_runs(runs: dict, epochs: int, data: tuple, args, prefix: str) -> None:
    """Train one model per ``name -> (batch_size, optimizer)``, print what it reached, save its figures."""
    X_train, y_train, _, _ = data
    models, histories = {}, {}
    for name, (batch_size, optimizer) in runs.items():
        models[name] = xn.Sequential(network(), input_dim=2, seed=0)
        started = time.perf_counter()
        histories[name] = models[name].fit(X_train, y_train, loss="binary_cross_entropy", optimizer=optimizer,
                                           batch_size=batch_size, epochs=epochs, seed=0)
        seconds = time.perf_counter() - started
        print(f"  {name:<28} {seconds:6.2f} s   last cost {histories[name]['loss'][-1]:.4f}   "
              f"{common.accuracies(models[name], data)}")
    common.save(xn.plot.compare(histories, yscale="log"), args, f"{prefix}_cost.png")
    common.save(common.boundaries(models, X_train, y_train), args, f"{prefix}_boundaries.png")


def main():
    args = common.options(__doc__)
    data = xn.datasets.moons()
    common.warm_up()
    epochs = 3 if args.smoke else 300
    print(f"batch size, plain gradient descent (lr 0.05), {epochs} epochs:")
    compare_runs({"batch (240 examples)": (None, xn.SGD(lr=0.05)),
                  "mini-batch (64)": (64, xn.SGD(lr=0.05)),
                  "stochastic (1)": (1, xn.SGD(lr=0.05))}, epochs, data, args, "optimization_batch_size")
    epochs = 10 if args.smoke else 1000
    print(f"optimizer, mini-batches of 64 (lr 0.003), {epochs} epochs:")
    compare_runs({"gradient descent": (64, xn.SGD(lr=0.003)),
                  "momentum (beta 0.9)": (64, xn.Momentum(lr=0.003, beta=0.9)),
                  "Adam": (64, xn.Adam(lr=0.003))}, epochs, data, args, "optimization_optimizers")


if __name__ == "__main__":
    main()

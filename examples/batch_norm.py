"""Batch normalization: a deep network (10 hidden ReLU layers of 64 units) on the digits, with and
without BatchNorm after each hidden Dense layer, over a range of learning rates.

Each variant is trained as a population of five models in one pass, one learning rate each (plain
mini-batch gradient descent, batches of 64, the same initial weights). A model whose cost becomes NaN
or inf is rolled back and frozen while the others go on. Normalizing every layer's pre-activations
keeps their scale in check, so the network with BatchNorm trains at learning rates where the plain one
diverges (at the small rates the plain network, He-initialized, goes down faster).

Figure: batch_norm_cost.png (cost per epoch for each learning rate, without and with BatchNorm).
"""
import math

import common
import numpy as np

import xpnet as xn

LEARNING_RATES = [0.01, 0.03, 0.1, 0.3, 1.0]


def network(batch_norm: bool, depth: int = 10, units: int = 64) -> list:
    layers = []
    for _ in range(depth):
        layers += [xn.Dense(units)] + ([xn.BatchNorm()] if batch_norm else []) + [xn.ReLU()]
    return layers + [xn.Dense(10)]


def outcome(history, accuracy: float) -> str:
    """The last cost and test accuracy, or the epoch where the cost stopped being finite."""
    costs = history["loss"]
    broken = [epoch for epoch, cost in enumerate(costs, start=1) if not math.isfinite(cost)]
    if broken:
        return f"diverged in epoch {broken[0]}"
    return f"cost {costs[-1]:.4f}, test accuracy {accuracy:.3f}"


def main():
    args = common.options(__doc__)
    epochs = 1 if args.smoke else 15
    X_train, y_train, X_test, y_test = xn.datasets.digits()
    print(f"{len(X_train)} training digits, 10 hidden layers of 64 units, {epochs} epochs:")
    figure, axes = common.side_by_side(2, width=5.5)
    outcomes = {}
    for ax, batch_norm in zip(axes, (False, True)):
        population = xn.Sequential(network(batch_norm), input_dim=X_train.shape[1], seed=0,
                                   population=len(LEARNING_RATES))
        with np.errstate(all="ignore"):  # the diverging models overflow on their way to inf
            population.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.SGD(lr=LEARNING_RATES),
                           batch_size=64, epochs=epochs, seed=0)
            accuracies = population.evaluate(X_test, y_test)["accuracy"]
        members = population.history.members()
        outcomes[batch_norm] = [outcome(member, accuracy) for member, accuracy in zip(members, accuracies)]
        xn.plot.compare({f"lr {lr}": member for lr, member in zip(LEARNING_RATES, members)}, yscale="log",
                        ax=ax)
        ax.set_title("with BatchNorm" if batch_norm else "without BatchNorm")
    for index, lr in enumerate(LEARNING_RATES):
        print(f"  lr {lr:<5} without BatchNorm: {outcomes[False][index]:<36} "
              f"with BatchNorm: {outcomes[True][index]}")
    common.save(figure, args, "batch_norm_cost.png")


if __name__ == "__main__":
    main()

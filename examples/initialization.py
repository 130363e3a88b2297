"""Initialization: zeros vs large random weights (normal, scale 10) vs He, on xn.datasets.circles.

A 2-10-5-1 ReLU network trained by batch gradient descent (lr 0.01). Zeros never break the symmetry
between the units of a layer: every unit computes the same thing, the cost stays at log 2 and the
model predicts one class. Weights of scale 10 start with a huge cost; whether they recover depends on
the draw, so each initialization is also trained from eight seeds at once (a population). He
initialization (normal, scale sqrt(2 / fan_in)) keeps the activations' scale from layer to layer.

Figures: initialization_cost.png (cost per epoch, log scale), initialization_boundaries.png.
"""
import common
import numpy as np

import xpnet as xn

INITIALIZATIONS = {"zeros": {"init": "zeros"},
                   "large random (normal, scale 10)": {"init": "normal", "scale": 10.0},
                   "He": {"init": "he"}}
SEEDS = list(range(8))


def network(init: dict) -> list:
    return [xn.Dense(10, **init), xn.ReLU(), xn.Dense(5, **init), xn.ReLU(), xn.Dense(1, **init)]


def train(model, data: tuple, epochs: int):
    X_train, y_train, _, _ = data
    return model.fit(X_train, y_train, loss="binary_cross_entropy", optimizer=xn.SGD(lr=0.01),
                     batch_size=None, epochs=epochs, seed=0)


def main():
    args = common.options(__doc__)
    epochs = 100 if args.smoke else 5000
    data = xn.datasets.circles()
    models, histories = {}, {}
    print(f"one model each (seed 0), {epochs} epochs of batch gradient descent:")
    for name, init in INITIALIZATIONS.items():
        models[name] = xn.Sequential(network(init), input_dim=2, seed=0)
        histories[name] = train(models[name], data, epochs)
        cost = histories[name]["loss"]
        print(f"  {name:<32} cost {cost[0]:9.4f} -> {cost[-1]:.4f}   {common.accuracies(models[name], data)}")

    print(f"test accuracy over seeds {SEEDS} (a population of {len(SEEDS)} per initialization):")
    for name, init in INITIALIZATIONS.items():
        population = xn.Sequential(network(init), input_dim=2, seed=SEEDS, population=len(SEEDS))
        train(population, data, epochs)
        accuracy = population.evaluate(data[2], data[3])["accuracy"]
        print(f"  {name:<32} mean {np.mean(accuracy):.3f}   min {np.min(accuracy):.3f}   "
              f"max {np.max(accuracy):.3f}")

    common.save(xn.plot.compare(histories, yscale="log"), args, "initialization_cost.png")
    common.save(common.boundaries(models, data[0], data[1]), args, "initialization_boundaries.png")


if __name__ == "__main__":
    main()

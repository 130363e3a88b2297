"""Regularization: none vs L2 vs dropout on a small, noisy two-moons set that a large network overfits.

60 training points (noise 0.35) and 340 test points; three hidden ReLU layers of 128 units trained by
batch gradient descent with Adam (lr 0.003). Without regularization the network fits the training
points exactly and its boundary bends around the noise; the L2 penalty (``l2 / (2 m) * sum(W^2)``,
lambda = 1) and inverted dropout (rate 0.5 after each hidden layer) keep it smoother.

Figures: regularization_boundaries.png (on the training points), regularization_val_loss.png (the
test set's loss per epoch).
"""
import common

import xpnet as xn

SETTINGS = {"no regularization": {"l2": 0.0, "dropout": 0.0},
            "L2, lambda = 1": {"l2": 1.0, "dropout": 0.0},
            "dropout, rate = 0.5": {"l2": 0.0, "dropout": 0.5}}


def network(dropout: float, depth: int = 3, units: int = 128) -> list:
    layers = []
    for _ in range(depth):
        layers += [xn.Dense(units), xn.ReLU()] + ([xn.Dropout(dropout)] if dropout else [])
    return layers + [xn.Dense(1)]


def main():
    args = common.options(__doc__)
    epochs = 50 if args.smoke else 3000
    data = X_train, y_train, X_test, y_test = xn.datasets.moons(n_samples=400, noise=0.35, test_size=0.85)
    print(f"{len(X_train)} training and {len(X_test)} test points, {epochs} epochs:")
    models, histories = {}, {}
    for name, setting in SETTINGS.items():
        models[name] = xn.Sequential(network(setting["dropout"]), input_dim=2, seed=0)
        histories[name] = models[name].fit(X_train, y_train, loss="binary_cross_entropy",
                                           optimizer=xn.Adam(lr=0.003), batch_size=None, epochs=epochs,
                                           validation_data=(X_test, y_test), l2=setting["l2"], seed=0)
        lowest = min(histories[name]["val_loss"])
        print(f"  {name:<22} {common.accuracies(models[name], data)}   test loss "
              f"{histories[name]['val_loss'][-1]:.3f} (lowest {lowest:.3f})")
    common.save(common.boundaries(models, X_train, y_train), args, "regularization_boundaries.png")
    common.save(xn.plot.compare(histories, key="val_loss"), args, "regularization_val_loss.png")


if __name__ == "__main__":
    main()

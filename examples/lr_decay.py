"""Learning-rate decay on two moons: a constant rate vs inverse-time decay (every epoch, and as a
staircase) vs exponential decay.

A 2-32-32-1 ReLU network trained by mini-batch gradient descent (batches of 16) from lr0 = 1. With a
constant, large rate the cost keeps jumping around; a decaying rate takes large steps early and small
ones late, so the cost settles (and, decayed too fast, stalls). Schedules count epochs t from 0:

    inverse time    lr0 / (1 + 0.1 t)
    staircase       lr0 / (1 + floor(t / 30))        (InverseTimeDecay with interval=30)
    exponential     lr0 * 0.98^t

Printed per run: the last learning rate, the last epoch's cost, the spread (standard deviation) of
the epochs' costs over the last 30 epochs, and the accuracies.
Figure: lr_decay.png (cost and learning rate per epoch, log scales).
"""
import common
import numpy as np

import xpnet as xn
from xpnet import schedules

LR0 = 1.0
SCHEDULES = {"constant": LR0,
             "inverse time (rate 0.1)": schedules.InverseTimeDecay(LR0, 0.1),
             "staircase (every 30 epochs)": schedules.InverseTimeDecay(LR0, 1.0, interval=30),
             "exponential (0.98 per epoch)": schedules.ExponentialDecay(LR0, 0.98)}


def late_spread(history, last_epochs: int = 30) -> float:
    """Standard deviation of the epochs' costs over the last ``last_epochs`` epochs."""
    return float(np.std(history["loss"][-last_epochs:]))


def main():
    args = common.options(__doc__)
    epochs = 5 if args.smoke else 300
    data = X_train, y_train, X_test, y_test = xn.datasets.moons()
    print(f"mini-batch gradient descent from lr0 = {LR0}, batches of 16, {epochs} epochs:")
    histories = {}
    for name, lr in SCHEDULES.items():
        model = xn.Sequential([xn.Dense(32), xn.ReLU(), xn.Dense(32), xn.ReLU(), xn.Dense(1)], input_dim=2,
                              seed=0)
        history = histories[name] = model.fit(X_train, y_train, loss="binary_cross_entropy",
                                               optimizer=xn.SGD(lr=lr), batch_size=16, epochs=epochs, seed=0)
        print(f"  {name:<29} last lr {history['lr'][-1]:.4f}   last cost {history['loss'][-1]:.4f}   "
              f"late spread {late_spread(history):.1e}   {common.accuracies(model, data)}")
    figure, (cost, lr) = common.side_by_side(2, width=5.5)
    xn.plot.compare(histories, key="loss", yscale="log", ax=cost)
    xn.plot.compare(histories, key="lr", yscale="log", ax=lr)
    common.save(figure, args, "lr_decay.png")


if __name__ == "__main__":
    main()

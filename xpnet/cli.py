"""The ``xpnet`` command: ``xpnet train --dataset digits --device cpu``."""
from __future__ import annotations

import argparse
import sys
import time

from xpnet import datasets
from xpnet.model import Sequential
from xpnet.nn.layers import Dense, ReLU
from xpnet.training.optim import SGD, Adam, Momentum, RMSprop

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
#: dataset -> (hidden layer widths, loss)
PRESETS = {
    "digits": ((128, 64), "softmax_cross_entropy"),
    "moons": ((16, 8), "binary_cross_entropy"),
    "circles": ((16, 8), "binary_cross_entropy"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xpnet", description="Train fully connected networks.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train on a bundled dataset and report test accuracy")
    train.add_argument("--dataset", choices=sorted(PRESETS), default="digits")
    train.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N'")
    train.add_argument("--backend", default=None, help="numpy, cupy, torch or array_api_strict")
    train.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default per optimizer)")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--hidden", type=int, nargs="+", default=None, help="hidden layer widths")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true", help="print only the final result")
    return parser


def train(args) -> float:
    """Train the dataset's preset network and return the test accuracy."""
    X_train, y_train, X_test, y_test = datasets.load(args.dataset, seed=args.seed)
    hidden, loss = PRESETS[args.dataset]
    hidden = args.hidden or hidden
    classes = 10 if loss == "softmax_cross_entropy" else 1
    layers = [layer for width in hidden for layer in (Dense(width), ReLU())] + [Dense(classes)]
    model = Sequential(layers, input_dim=X_train.shape[1], device=args.device, dtype=args.dtype,
                       seed=args.seed, backend=args.backend)
    optimizer = OPTIMIZERS[args.optimizer]() if args.lr is None else OPTIMIZERS[args.optimizer](lr=args.lr)
    print(f"xpnet: {args.dataset} ({X_train.shape[0]} train / {X_test.shape[0]} test examples), "
          f"{model.count_params()} parameters on {model.backend.name}:{model.device}, {optimizer!r}")
    started = time.perf_counter()
    model.fit(X_train, y_train, loss=loss, optimizer=optimizer, batch_size=args.batch_size,
              epochs=args.epochs, validation_data=(X_test, y_test), seed=args.seed,
              verbose=not args.quiet)
    scores = model.evaluate(X_test, y_test)
    print(f"test accuracy {scores['accuracy']:.4f}  test loss {scores['loss']:.4f}  "
          f"({time.perf_counter() - started:.1f} s)")
    return scores["accuracy"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except (ValueError, TypeError, ImportError, RuntimeError) as error:
        print(f"xpnet: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

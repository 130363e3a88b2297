"""The ``xpnet`` command (also ``python -m xpnet``): train, predict, tune, bench, info.

    xpnet train --dataset digits --device cpu          # a bundled dataset, test accuracy
    xpnet train --data iris.csv --target species --save iris.npz --plot curves.png
    xpnet predict iris.npz new.csv --output predictions.csv
    xpnet tune --data iris.csv --target species --trials 32 --output trials.csv

Every failure is one line ``xpnet: error: ...`` on stderr and an exit code from :data:`EXIT_CODES`.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import xpnet as xn
from xpnet import environment, tabular, threads, tune
from xpnet.preparation import TASKS, Encoding, class_labels, infer_task, validation_split
from xpnet.tabular import DataError

#: training counts as diverged once a mini-batch's cost exceeds this many times the untrained loss
DIVERGENCE_GROWTH = 100
EXIT_CODES = {
    0: "success",
    1: "another failure (a benchmark run that failed, an unexpected error)",
    2: "usage: a bad option or option value, or a bad --space file",
    3: "bad data: a data, model or output file missing, unreadable or unsuitable",
    4: f"training diverged (the cost became NaN or inf, or rose above {DIVERGENCE_GROWTH} times the untrained "
       "model's loss; try a smaller --lr)",
    5: "unavailable: an optional package (the message names the pip extra), a device, benchmarks/",
    130: "interrupted (Ctrl-C); no file is left half-written",
    141: "standard output closed early (xpnet predict ... | head): stops quietly",
}

OPTIMIZERS = {"sgd": xn.SGD, "momentum": xn.Momentum, "rmsprop": xn.RMSprop, "adam": xn.Adam}
#: a bundled dataset's hidden widths, loss and epochs (the two small 2-D sets need more epochs of
#: their few mini-batches to leave chance accuracy)
PRESETS = {
    "digits": ((128, 64), "softmax_cross_entropy", 30),
    "moons": ((16, 8), "binary_cross_entropy", 300),
    "circles": ((16, 8), "binary_cross_entropy", 300),
}
HIDDEN_FOR_DATA = (64, 64)
EPOCHS_FOR_DATA = 30

DISTRIBUTIONS: dict[str, Callable[..., tune.spaces.Distribution]] = {
    "uniform": tune.Uniform,
    "log_uniform": tune.LogUniform,
    "one_minus_log_uniform": tune.OneMinusLogUniform,
    "int_uniform": tune.IntUniform,
    "int_log_uniform": lambda low, high: tune.IntUniform(low, high, log=True),
    "choice": lambda *options: tune.Choice(options),
}
#: tune's --epochs, --batch-size and --seed when neither the option nor the --space file gives them
TUNE_DEFAULTS = {"epochs": 10, "batch_size": 64, "seed": 0}
DEFAULT_SPACE = {
    "lr": tune.LogUniform(1e-4, 1e-1),
    "l2": tune.LogUniform(1e-5, 1.0),
    "units": tune.Choice([32, 64, 128, 256]),
    "layers": tune.Choice([1, 2, 3]),
}
SPACE_HELP = """\
--space FILE is a JSON object mapping a hyperparameter name to a distribution, or to a fixed value:
  {"lr": {"log_uniform": [1e-4, 1]}, "units": {"int_uniform": [16, 256]},
   "activation": {"choice": ["relu", "tanh"]}, "epochs": 20}
distributions: uniform [low, high]; log_uniform [low, high] (uniform in log10); int_uniform
[low, high] (integers, inclusive); int_log_uniform [low, high]; one_minus_log_uniform [low, high]
(1 - 10**r, for betas); choice [option, ...]. Names: lr, l2, units, layers, activation, optimizer,
batch_size, epochs, dropout, beta1, beta2, ... (those xpnet.tune knows). The default space searches
lr log-uniform in [1e-4, 0.1], l2 log-uniform in [1e-5, 1], units in {32, 64, 128, 256} and layers
in {1, 2, 3}. Every value the search can use is checked first, as xpnet checks it (counts such as
epochs, batch_size and units are JSON integers, not strings)."""


class UsageError(ValueError):
    """An option value or settings file the command cannot use (exit code 2)."""


class Diverged(Exception):
    """Training diverged (exit code 4): ``xn.DivergenceError``'s message, and what the command adds."""


class Unavailable(Exception):
    """Something optional this run needs is absent: a device or a source checkout (exit code 5)."""


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors as one line, ``xpnet: error: ...``, exit code 2."""

    def error(self, message):
        self.exit(2, f"xpnet: error: {message} (see '{self.prog} --help')\n")


# command line -----------------------------------------------------------------------------------

def build_parser() -> ArgumentParser:
    epilog = ("Every failure is one line 'xpnet: error: ...' on stderr.\nexit codes:\n"
              + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()))
    parser = ArgumentParser(prog="xpnet", description="Train fully connected networks.", epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"xpnet {xn.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train on a data file or a bundled dataset",
        description="Train on a data file (--data) or on a bundled dataset (--dataset; the default is "
                    "--dataset digits). --val-split of the training rows are held out and scored "
                    "every epoch (val_loss, val_accuracy); a bundled dataset's test split is scored "
                    "once, at the end.")
    _add_data_options(train)
    train.add_argument("--dataset", choices=sorted(PRESETS), help="a bundled dataset (default: digits)")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    train.add_argument("--lr", type=_positive_number, default=None, help="learning rate (default per optimizer)")
    _add_fitting_options(train, epochs=None, epochs_help=(
        f"default {EPOCHS_FOR_DATA} for --data; " + ", ".join(f"{name} {PRESETS[name][2]}" for name in PRESETS)))
    train.add_argument("--hidden", type=_positive_int, nargs="+", default=None,
                       help=f"hidden layer widths (default {' '.join(map(str, HIDDEN_FOR_DATA))} for --data; "
                            + ", ".join(f"{name} {' '.join(map(str, PRESETS[name][0]))}" for name in PRESETS) + ")")
    train.add_argument("--l2", type=_non_negative_number, default=0.0, help="L2 penalty lambda (default 0)")
    train.add_argument("--save", metavar="MODEL.npz",
                       help="save the model, with its data encoding; if training diverges (exit code 4), "
                            "the model as its last finite epoch left it")
    train.add_argument("--plot", metavar="CURVES.png", help="save the training curves (also if it diverges)")
    _add_device_options(train)
    _add_run_options(train)
    train.set_defaults(run=command_train)

    predict = commands.add_parser(
        "predict", help="apply a saved model to a data file",
        description="Apply a model saved by 'xpnet train --save' to FILE's feature columns and write "
                    "one CSV row per input row: the predicted label and each class's probability "
                    "p(<class>), or the predicted value. When FILE has the target column, the "
                    "accuracy and loss are reported too (or why they cannot be).")
    predict.add_argument("model", metavar="MODEL", help="a model file from 'xpnet train --save'")
    predict.add_argument("file", metavar="FILE", help="a .csv, .npy, .npz or .parquet file")
    predict.add_argument("--output", metavar="PREDICTIONS.csv",
                         help="write the CSV here (default: standard output, the summary to stderr)")
    predict.add_argument("--features", metavar="ARRAY", help="the features array of an .npz file (default X)")
    predict.add_argument("--device", help="load the model onto this device (default: where it was saved)")
    predict.add_argument("--backend", help="load the model onto this backend")
    _add_threads_option(predict)
    predict.set_defaults(run=command_predict)

    search = commands.add_parser(
        "tune", help="random hyperparameter search",
        description="Random search, every trial scored on a validation split of the data file.",
        epilog=SPACE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_data_options(search)
    search.add_argument("--trials", type=_positive_int, default=20, help="configurations to try (default 20)")
    search.add_argument("--space", metavar="SPACE.json", help="the search space (format below)")
    search.add_argument("--output", metavar="TRIALS.csv", help="write every trial as CSV")
    search.add_argument("--top", type=_positive_int, default=10, help="rows of the table printed (default 10)")
    _add_fitting_options(search, epochs=TUNE_DEFAULTS["epochs"])
    # None marks "not given", so that a value fixed in --space can stand in for a default
    search.set_defaults(**dict.fromkeys(TUNE_DEFAULTS))
    _add_device_options(search)
    _add_run_options(search)
    search.set_defaults(run=command_tune)

    bench = commands.add_parser("bench", help="run the benchmark suite of a source checkout",
                                description="Run benchmarks/ (found in this folder or above) with "
                                            "pytest-benchmark and print the report.")
    bench.add_argument("--profile", choices=("quick", "full"), default="quick")
    bench.add_argument("--json", metavar="RESULTS.json", help="keep pytest-benchmark's raw results here")
    bench.set_defaults(run=command_bench, threads=None)

    info = commands.add_parser("info", help="versions, backends, devices, fast paths, BLAS threads")
    _add_threads_option(info)
    info.set_defaults(run=command_info)
    return parser


def _add_data_options(parser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="FILE", help="a .csv (with a header), .npy, .npz or .parquet file")
    group.add_argument("--target", metavar="COLUMN",
                       help="the target column (.npy: an index, default the last; .npz: an array, default y)")
    group.add_argument("--features", metavar="ARRAY", help="the features array of an .npz file (default X)")
    group.add_argument("--task", choices=TASKS,
                       help="default: classify a text target or one of few integer values, else regress")
    group.add_argument("--val-split", type=_fraction, default=0.2, metavar="FRACTION",
                       help="the fraction of the training rows held out for validation, stratified "
                            "for classification (default 0.2; 0: no validation)")


def _add_fitting_options(parser, epochs: int | None, epochs_help: str | None = None) -> None:
    parser.add_argument("--epochs", type=_positive_int, default=epochs, help=epochs_help or f"default {epochs}")
    parser.add_argument("--batch-size", type=_positive_int, default=64, help="default 64")


def _add_device_options(parser) -> None:
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--backend", default=None, help="numpy, cupy, torch or array_api_strict")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))


def _add_run_options(parser) -> None:
    parser.add_argument("--seed", type=_count, default=0, help="default 0")
    _add_threads_option(parser)
    parser.add_argument("--quiet", action="store_true",
                        help="print only the final result (no header, progress or 'saved ...' lines)")


def _add_threads_option(parser) -> None:
    parser.add_argument("--threads", type=_positive_int, metavar="N", help="BLAS threads (needs threadpoolctl)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _positive_number(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _non_negative_number(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


# running a command ------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        with threads.limit(args.threads, "--threads"):
            args.run(args)
        sys.stdout.flush()
        return 0
    except SystemExit as exit:  # from argparse: --help, --version, a usage error
        return int(exit.code or 0)
    except KeyboardInterrupt:
        print("xpnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Exception as error:
        print(f"xpnet: error: {_one_line(error)}", file=sys.stderr)
        return exit_code(error)


def exit_code(error: Exception) -> int:
    """The documented exit code (see :data:`EXIT_CODES`) for a failure."""
    if isinstance(error, (DataError, OSError)):
        return 3
    if isinstance(error, (xn.DivergenceError, Diverged)):
        return 4
    if isinstance(error, (ImportError, Unavailable)):
        return 5
    if isinstance(error, (ValueError, TypeError)):
        return 2
    return 1


def _one_line(error: Exception) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    return message if exit_code(error) != 1 else f"{type(error).__name__}: {message}"


def _silence_stdout() -> None:
    """After the reader of standard output went away: point it at /dev/null so that the final flush
    at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def say(args, *text) -> None:
    """Print unless --quiet."""
    if not args.quiet:
        print(*text, flush=True)


# train ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    """A data file split, encoded and ready to train on (``X_val`` is None without validation rows)."""

    encoding: Encoding
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None

    def describe(self) -> str:
        split = f"{len(self.X_train)} train / {0 if self.y_val is None else len(self.y_val)} validation rows"
        encoding, features = self.encoding, self.X_train.shape[1]
        if encoding.task == "regress":
            return f"{split}, {features} features, regression on {encoding.target!r}"
        classes = ", ".join(map(str, encoding.classes[:8])) + (", ..." if len(encoding.classes) > 8 else "")
        return f"{split}, {features} features, {len(encoding.classes)} classes ({classes})"


def prepare(args) -> Prepared:
    """Read ``--data``, choose the task, split off ``--val-split`` and fit the encoding on the rest."""
    table = read_table(args.data, args.features)
    target = table.target_name(args.target)
    features = table.feature_names(target)
    X, y = table.features(features), table.column(target)
    task = args.task or infer_task(y)
    classes = class_labels(y) if task == "classify" else None
    train, held = validation_split(table.rows, args.val_split, args.seed, y if classes else None)
    encoding = Encoding.fit(task, target, features, X[train], y[train], classes)
    if _suffix(args.data) == ".npz":
        encoding.features_array = args.features or "X"  # predict reads the same array by default
    validation = (encoding.inputs(X[held]), encoding.targets(y[held])) if held.size else (None, None)
    return Prepared(encoding, encoding.inputs(X[train]), encoding.targets(y[train]), *validation)


def check_device(backend: str | None, device: str, dtype: str = "float32") -> None:
    """Fail before any work when the device or backend cannot be used."""
    try:
        xn.resolve_backend(backend, device, dtype)
    except RuntimeError as error:
        raise Unavailable(str(error)) from error


def build_model(input_dim: int, hidden, output_dim: int, args) -> xn.Sequential:
    """``Dense -> ReLU`` per hidden width, then ``Dense(output_dim)``."""
    layers = [layer for width in hidden for layer in (xn.Dense(width), xn.ReLU())] + [xn.Dense(output_dim)]
    return xn.Sequential(layers, input_dim=input_dim, device=args.device, dtype=args.dtype,
                         seed=args.seed, backend=args.backend)


@dataclasses.dataclass
class Job:
    """What ``xpnet train`` fits: ``model`` on ``X, y`` (validating on ``validation``, None for
    none), the ``encoding`` saved with it, the data's ``description`` for the header line, and the
    rows scored once training ends: ``scored = (X, y, part)``, ``part`` naming them."""

    model: xn.Sequential
    encoding: Encoding
    X: np.ndarray
    y: np.ndarray
    validation: tuple | None
    description: str
    scored: tuple


def command_train(args) -> None:
    if args.data and args.dataset:
        raise UsageError("give either --data FILE or --dataset NAME, not both")
    if not args.data:
        refuse_file_options(args)
    plot = load_plotter() if args.plot else None
    check_outputs({"--save": args.save, "--plot": plot.file_name(args.plot)[0] if plot else None},
                  {"--data": args.data})
    check_device(args.backend, args.device, args.dtype)
    if args.epochs is None:
        args.epochs = EPOCHS_FOR_DATA if args.data else PRESETS[args.dataset or "digits"][2]
    job = file_job(args) if args.data else dataset_job(args)
    model, optimizer = job.model, make_optimizer(args)
    say(args, f"xpnet: {job.description}; {model.count_params()} parameters on "
              f"{model.backend.name}:{model.device}, {optimizer!r}")
    started = time.perf_counter()
    try:
        fit(model, args, job.X, job.y, job.encoding.loss, optimizer, job.validation)
    except Diverged as error:
        raise Diverged(f"{error}{keep_diverged(args, job, plot)}") from error
    print(f"{scores_line(model, job.encoding, *job.scored)}  ({time.perf_counter() - started:.1f} s)")
    for written in save_outputs(args, job, plot):
        say(args, f"saved {written}")


def read_table(path: str, features_array: str | None) -> tabular.Table:
    """Read a data file; ``--features`` (``features_array``) only names an array of an .npz file."""
    suffix = _suffix(path)
    if features_array is not None and suffix != ".npz":
        raise UsageError(f"--features names the features array of an .npz file; {path} is a {suffix or 'suffix-less'} "
                         "file, whose features are every column but --target")
    return tabular.read(path, features_array=features_array or "X")


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def refuse_file_options(args) -> None:
    """--target, --task and --features describe a --data file: a bundled dataset has its own."""
    given = [f"--{name}" for name in ("target", "task", "features") if getattr(args, name) is not None]
    if given:
        verb = "describes" if len(given) == 1 else "describe"
        raise UsageError(f"{' and '.join(given)} {verb} a --data file; a bundled --dataset has its own "
                         "target, task and features")


def dataset_job(args) -> Job:
    """A bundled dataset's preset network, validated on --val-split of the training rows and tested
    once, at the end."""
    name = args.dataset or "digits"
    X_train, y_train, X_test, y_test = xn.datasets.load(name, seed=args.seed, standardize=False)
    hidden, loss, _ = PRESETS[name]
    # the training split's standardization, saved with the model so that predict reads raw features
    encoding = Encoding.fit("classify", "y", None, X_train, y_train,
                            list(range(10 if loss == "softmax_cross_entropy" else 2)))
    X_train, X_test = encoding.inputs(X_train), encoding.inputs(X_test)
    X_train, y_train, validation = hold_out(X_train, y_train, args)
    model = build_model(X_train.shape[1], args.hidden or hidden, encoding.output_dim, args)
    held = 0 if validation is None else len(validation[1])
    return Job(model, encoding, X_train, y_train, validation,
               f"{name}: {len(X_train)} train / {held} validation / {len(X_test)} test rows",
               (X_test, y_test, "test"))


def hold_out(X, y, args) -> tuple:
    """``(X_train, y_train, (X_val, y_val))``: --val-split of the class-labelled rows ``X, y`` held
    out, stratified (``(X, y, None)`` for --val-split 0), as :func:`prepare` splits a data file."""
    train, held = validation_split(len(y), args.val_split, args.seed, y)
    return X[train], y[train], ((X[held], y[held]) if held.size else None)


def file_job(args) -> Job:
    """A network for ``--data``, scored on its validation rows (its training rows without them)."""
    data = prepare(args)
    encoding = data.encoding
    model = build_model(data.X_train.shape[1], args.hidden or HIDDEN_FOR_DATA, encoding.output_dim, args)
    validation = (data.X_val, data.y_val) if data.X_val is not None else None
    scored = (*validation, "validation") if validation else (data.X_train, data.y_train, "training")
    return Job(model, encoding, data.X_train, data.y_train, validation, f"{args.data}: {data.describe()}", scored)


def save_outputs(args, job: Job, plot) -> list:
    """Write the model (with its encoding) to --save and its curves to --plot, where given; returns
    what was written, e.g. ``["the model to m.npz"]``."""
    written = []
    if args.save:
        xn.save(job.model, args.save, metadata={"encoding": job.encoding.to_metadata()})
        written.append(f"the model to {args.save}")
    if plot is not None:
        written.append(f"the training curves to {plot.save(plot.history(job.model.history), args.plot)}")
    return written


def keep_diverged(args, job: Job, plot) -> str:
    """After training diverged: save what the epochs before it trained (the model was rolled back to
    the end of the last finite epoch), as on success; returns a sentence saying so."""
    if not (args.save or args.plot):
        return ""
    if job.model.epoch == 0:
        return " Nothing was saved: no epoch completed."
    return f" Saved {' and '.join(save_outputs(args, job, plot))}, as trained through epoch {job.model.epoch}."


def make_optimizer(args):
    optimizer = OPTIMIZERS[args.optimizer]
    return optimizer() if args.lr is None else optimizer(lr=args.lr)


def fit(model, args, X, y, loss, optimizer, validation) -> None:
    """``model.fit`` with the command's settings. It raises :class:`Diverged` (the model rolled back
    to the start of the epoch) when the cost becomes NaN or inf, or when a mini-batch's cost exceeds
    :data:`DIVERGENCE_GROWTH` times the untrained model's loss on ``X``: a bound that no healthy run
    reaches, however close to 0 its loss gets. NumPy's overflow warnings are silenced."""
    with np.errstate(all="ignore"):
        untrained = model.evaluate(X, y, loss=loss)["loss"]
        # an untrained loss of 0 (or not finite) gives no scale: then only NaN and inf count
        diverged = (xn.callbacks.TerminateOnDivergence(factor=None, threshold=DIVERGENCE_GROWTH * untrained)
                    if np.isfinite(untrained) and untrained > 0 else None)
        try:
            model.fit(X, y, loss=loss, optimizer=optimizer, batch_size=args.batch_size, epochs=args.epochs,
                      validation_data=validation, seed=args.seed, l2=args.l2, verbose=0 if args.quiet else 1,
                      callbacks=[diverged] if diverged is not None else None)
        except xn.DivergenceError as error:
            limit = (f" (That limit is {DIVERGENCE_GROWTH} times the untrained model's loss, {untrained:.4g}.)"
                     if diverged is not None and error.reason == diverged.reason else "")
            raise Diverged(f"{error}{limit}") from error


def scores_line(model, encoding: Encoding, X, y, part: str = "") -> str:
    """``"<part> accuracy A  <part> loss L"`` for classifiers; for regression the root mean squared
    error in the target's units and the loss (mean squared error) on the standardized target."""
    scores = model.evaluate(X, y)
    prefix = f"{part} " if part else ""
    if encoding.task == "classify":
        return f"{prefix}accuracy {scores['accuracy']:.4f}  {prefix}loss {scores['loss']:.4f}"
    rmse = np.sqrt(scores["loss"]) * encoding.target_std
    return f"{prefix}rmse {rmse:.4g}  {prefix}loss {scores['loss']:.4f} (standardized target)"


def check_outputs(outputs: dict, inputs: dict) -> None:
    """Before any work: each output (option -> path, None when not given) can be written (its folder
    exists and it is not a folder) and would overwrite neither an input (option -> path) nor another
    output."""
    given = {option: path for option, path in outputs.items() if path is not None}
    for option, path in given.items():
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise DataError(f"cannot write {path}: no folder {folder}")
        if os.path.isdir(path):
            raise DataError(f"cannot write {option} {path}: it is a folder")
    named = [(option, path) for option, path in inputs.items() if path is not None]
    for option, path in given.items():
        for other, other_path in named:
            if _same_file(path, other_path):
                raise UsageError(f"{option} {path} would overwrite {other} {other_path}; give another name")
        named.append((option, path))


def _same_file(a, b) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def load_plotter():
    """The ``xpnet.plot`` module, imported only when --plot is given, once matplotlib is known to
    import (``xpnet.plot`` imports it only when it draws, after training)."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as error:
        raise ImportError("--plot needs matplotlib: pip install 'xpnet[plot]'") from error
    from xpnet import plot

    return plot


# predict ----------------------------------------------------------------------------------------

def command_predict(args) -> None:
    check_outputs({"--output": args.output}, {"MODEL": args.model, "FILE": args.file})
    model = load_model(args)
    encoding = Encoding.for_model(model)
    saved_array = encoding.features_array if _suffix(args.file) == ".npz" else None
    table = read_table(args.file, args.features or saved_array)
    features = feature_columns(table, encoding, model.input_dim)
    X = encoding.inputs(table.features(features))
    with np.errstate(all="ignore"):
        outputs = model.predict(X)
    score = ""
    if encoding.target in table.columns and encoding.target not in features:
        try:  # the predictions stand without it: a target column that cannot be scored is reported
            targets = encoding.targets(table.column(encoding.target))
        except ValueError as error:
            score = f"; not scored: {_one_line(error)}"
        else:
            score = "; " + scores_line(model, encoding, X, targets)
    header, rows = prediction_rows(encoding, outputs)
    if args.output:
        tabular.save_csv(args.output, header, rows)
    else:
        tabular.write_csv(sys.stdout, header, rows)
    summary = f"{len(outputs)} predictions" + (f" written to {args.output}" if args.output else "") + score
    print(summary, file=sys.stdout if args.output else sys.stderr)


def load_model(args) -> xn.Sequential:
    """``xn.load`` onto --device/--backend (default: where it was saved); a bad file is a DataError."""
    if not os.path.isfile(args.model):
        raise DataError(f"{args.model}: no such model file")
    if not zipfile.is_zipfile(args.model):
        raise DataError(f"{args.model}: not a model file (an .npz archive from 'xpnet train --save')")
    if args.device is not None or args.backend is not None:
        check_device(args.backend, args.device or "cpu")
    try:
        model = xn.load(args.model, device=args.device, backend=args.backend)
    except (ImportError, RuntimeError) as error:
        raise Unavailable(f"{args.model}: {_one_line(error)}; or load it with --device cpu") from error
    except (ValueError, KeyError, OSError, EOFError) as error:
        raise DataError(f"{args.model}: not a model saved by xpnet ({_one_line(error)})") from error
    if model.loss is None:
        raise DataError(f"{args.model}: the model was saved before training (it has no loss)")
    return model


def feature_columns(table, encoding: Encoding, input_dim: int) -> list:
    """The columns the model reads. A file with a header: the saved feature names. A file without
    one (.npy, .npz), whose column names are only positions, or a model saved without names: every
    candidate column when there are as many as inputs, else every column but the target; any other
    count is refused, never guessed."""
    names = encoding.features
    if table.named and names is not None:
        missing = [name for name in names if name not in table.columns]
        if missing:
            raise DataError(f"{table.path}: no column(s) {missing[:5]} of the {len(names)} features the "
                            "model was trained on")
        return names
    if len(table.candidates) == input_dim:
        return table.candidates
    if len(table.feature_names(encoding.target)) == input_dim:
        return table.feature_names(encoding.target)
    raise DataError(f"{table.path}: the model reads {input_dim} features, the file has "
                    f"{len(table.candidates)} columns")


def prediction_rows(encoding: Encoding, outputs: np.ndarray) -> tuple:
    """CSV header and rows: the label then ``p(<class>)`` per class, or the predicted value."""
    if encoding.task == "regress":
        return [encoding.target], ([f"{value:.8g}"] for value in encoding.values(outputs))
    probabilities = encoding.probabilities(outputs)
    header = [encoding.target] + [f"p({label})" for label in encoding.classes]
    rows = ([label] + [f"{p:.6g}" for p in row]
            for label, row in zip(encoding.labels(probabilities), probabilities.tolist()))
    return header, rows


# tune -------------------------------------------------------------------------------------------

def command_tune(args) -> None:
    if not args.data:
        raise UsageError("tune needs --data FILE")
    if args.val_split == 0:
        raise UsageError("tune compares trials on a validation split: --val-split must be above 0")
    check_outputs({"--output": args.output}, {"--data": args.data, "--space": args.space})
    space, fixed = read_space(args.space) if args.space else (DEFAULT_SPACE, {})
    given = {name: getattr(args, name) for name in TUNE_DEFAULTS if getattr(args, name) is not None}
    clashes = [f"{name} at {fixed[name]!r} where --{name.replace('_', '-')} gives {value}"
               for name, value in given.items() if name in fixed and fixed[name] != value]
    if clashes:
        raise UsageError(f"--space {args.space} fixes {'; '.join(clashes)}: set each value once, with its "
                         "option or in the file")
    for name, default in TUNE_DEFAULTS.items():
        setattr(args, name, given.get(name, default))
    check_device(args.backend, args.device, args.dtype)
    data = prepare(args)
    encoding = data.encoding
    if data.X_val is None or data.y_val is None:
        raise UsageError("tune compares trials on a validation split: --val-split must leave validation rows")
    problem = tune.Problem(data.X_train, data.y_train, data.X_val, data.y_val, loss=encoding.loss,
                           output_dim=encoding.output_dim, device=args.device, backend=args.backend,
                           dtype=args.dtype, shuffle_seed=args.seed)
    say(args, f"xpnet: {args.data}: {data.describe()}; {args.trials} trials of {sorted(space)}")
    started = time.perf_counter()
    base = {**{name: getattr(args, name) for name in TUNE_DEFAULTS}, **fixed}
    results = tune.random_search(space, problem, n_trials=args.trials, base=base, seed=args.seed)
    say(args, f"{len(results)} trials in {time.perf_counter() - started:.1f} s; the best first:")
    print(results.table(limit=args.top))
    if args.output:
        results.to_csv(args.output)
        say(args, f"wrote {len(results)} trials to {args.output}")


def read_space(path: str) -> tuple:
    """``(space, fixed)`` from a JSON file: distributions to search, and values to hold fixed."""
    try:
        with open(path, encoding="utf-8") as file:
            entries = json.load(file)
    except OSError as error:
        raise UsageError(f"--space {path}: cannot be read ({error.strerror})") from error
    except json.JSONDecodeError as error:
        raise UsageError(f"--space {path}: not valid JSON ({error})") from error
    if not isinstance(entries, dict) or not entries:
        raise UsageError(f"--space {path}: expected a JSON object mapping names to distributions")
    space = {name: distribution(path, name, entry) for name, entry in entries.items() if isinstance(entry, dict)}
    fixed = {name: entry for name, entry in entries.items() if not isinstance(entry, dict)}
    if not space:
        raise UsageError(f"--space {path}: no distribution to search; e.g. {{\"lr\": {{\"log_uniform\": [1e-4, 1]}}}}")
    check_values(path, space, fixed)
    return space, fixed


def check_values(path: str, space: dict, fixed: dict) -> None:
    """Build a model from the fixed values, then from each searched name's extremes over them (a
    range's two ends, every option of a choice), so that the library's own checks refuse a bad value
    before any trial trains. Those checks bound a value to an interval, so if both ends of a range
    pass, every value in it does."""
    candidates = [{}] + [{name: value} for name, distribution in space.items() for value in distribution.grid(2)]
    for candidate in candidates:
        try:
            tune.build_model({**fixed, **candidate}, input_dim=1, output_dim=1)
        except (ValueError, TypeError) as error:
            raise UsageError(f"--space {path}: {_one_line(error)}") from error


def distribution(path: str, name: str, entry: dict):
    """An ``xpnet.tune`` distribution from ``{"<kind>": [arguments]}``."""
    if len(entry) != 1 or next(iter(entry)) not in DISTRIBUTIONS:
        raise UsageError(f"--space {path}: {name!r} must be {{KIND: [...]}} with KIND one of "
                         f"{sorted(DISTRIBUTIONS)}, got {json.dumps(entry)}")
    kind, arguments = next(iter(entry.items()))
    if not isinstance(arguments, list) or (kind != "choice" and len(arguments) != 2):
        expected = "a list of options" if kind == "choice" else "a list [low, high]"
        raise UsageError(f"--space {path}: {name!r}: {kind} takes {expected}, got {json.dumps(arguments)}")
    try:
        return DISTRIBUTIONS[kind](*arguments)
    except (ValueError, TypeError) as error:
        raise UsageError(f"--space {path}: {name!r}: {error}") from error


# bench and info ---------------------------------------------------------------------------------

def command_bench(args) -> None:
    root = find_checkout(Path.cwd())
    if root is None:
        raise Unavailable(f"xpnet bench runs the benchmarks/ folder of an xpnet source checkout; none in "
                          f"{Path.cwd()} or above it: run it from a clone of the repository")
    if environment.version_of("pytest_benchmark") is None:
        raise ImportError("xpnet bench needs pytest-benchmark: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as folder:
        results = os.path.abspath(args.json or os.path.join(folder, "results.json"))
        run_in(root, "-m", "pytest", "benchmarks", "--profile", args.profile, f"--benchmark-json={results}",
               "-q", "-p", "no:cacheprovider")
        run_in(root, "-m", "benchmarks.report", results)


def find_checkout(folder: Path) -> Path | None:
    """The first of ``folder`` and its parents that holds ``benchmarks/report.py``."""
    for candidate in (folder, *folder.parents):
        if (candidate / "benchmarks" / "report.py").is_file():
            return candidate
    return None


def run_in(folder: Path, *arguments) -> None:
    """Run this Python with ``arguments`` in ``folder``; a failure raises RuntimeError."""
    sys.stdout.flush()
    completed = subprocess.run([sys.executable, *arguments], cwd=folder)
    if completed.returncode != 0:
        raise RuntimeError(f"'python {' '.join(arguments)}' failed with exit code {completed.returncode}")


def command_info(args) -> None:
    print(environment.report())


if __name__ == "__main__":
    sys.exit(main())

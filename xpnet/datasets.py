"""Small real and generated datasets for examples and tests (needs the ``datasets`` extra).

Each loader returns ``(X_train, y_train, X_test, y_test)`` as NumPy arrays, from a stratified,
seeded split, with features standardized by the training split's statistics (``standardize=False``:
the features as the source gives them, for a caller that keeps its own standardization).
"""
from __future__ import annotations

from collections.abc import Callable

from xpnet.data import Standardizer


def _sklearn():
    try:
        import sklearn.datasets
        import sklearn.model_selection
    except ImportError as error:
        raise ImportError("xpnet's datasets need scikit-learn: pip install 'xpnet[datasets]'") from error
    return sklearn


def _train_test_split(X, y, test_size, seed, standardize):
    sklearn = _sklearn()
    X_train, X_test, y_train, y_test = sklearn.model_selection.train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y)
    if not standardize:
        return X_train, y_train, X_test, y_test
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def digits(test_size: float = 0.2, seed: int = 0, standardize: bool = True):
    """scikit-learn's bundled 8x8 handwritten digits: 1797 images, 64 features, 10 classes."""
    X, y = _sklearn().datasets.load_digits(return_X_y=True)
    return _train_test_split(X, y, test_size, seed, standardize)


def moons(n_samples: int = 300, noise: float = 0.2, test_size: float = 0.2, seed: int = 0,
          standardize: bool = True):
    """Two interleaving half circles in 2-D, labels 0/1."""
    X, y = _sklearn().datasets.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return _train_test_split(X, y, test_size, seed, standardize)


def circles(n_samples: int = 300, noise: float = 0.05, factor: float = 0.5, test_size: float = 0.2,
            seed: int = 0, standardize: bool = True):
    """A small circle inside a large one in 2-D, labels 0/1."""
    X, y = _sklearn().datasets.make_circles(n_samples=n_samples, noise=noise, factor=factor,
                                            random_state=seed)
    return _train_test_split(X, y, test_size, seed, standardize)


DATASETS: dict[str, Callable] = {"digits": digits, "moons": moons, "circles": circles}


def load(name: str, **options):
    """Load a dataset by name: ``"digits"``, ``"moons"`` or ``"circles"``."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name](**options)

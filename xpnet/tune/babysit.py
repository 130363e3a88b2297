"""Babysitting one model (the "panda" approach, when compute allows only one model at a time):
train a few epochs, look at the curves, change the learning rate or other settings, go on from
exactly where it stopped; checkpoint the whole state to disk and resume it later."""
from __future__ import annotations

from xpnet import checks
from xpnet.io import load, save
from xpnet.nn.losses import get_loss
from xpnet.training.optim import Optimizer

#: what a checkpoint's ``"babysitter"`` metadata holds besides the model: the fit settings and the next seed
CHECKPOINT_KEYS = ("loss", "batch_size", "l2", "seed")


class Babysitter:
    """Holds one model with its data and ``fit`` settings between rounds of training.

    >>> sitter = Babysitter(model, X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(1e-3),
    ...                     validation_data=(X_val, y_val))           # doctest: +SKIP
    >>> sitter.train(3); sitter.adjust(lr=3e-4, batch_size=128); sitter.train(3)   # doctest: +SKIP
    >>> sitter.save("panda.npz"); sitter = Babysitter.resume("panda.npz", X, y, (X_val, y_val))  # doctest: +SKIP
    """

    def __init__(self, model, X, y, loss, optimizer, batch_size: int | None = 32, validation_data=None,
                 l2: float = 0.0, seed: int | None = 0):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an xpnet optimizer (xn.SGD, xn.Adam, ...), got {optimizer!r}")
        self.model, self.X, self.y, self.validation_data = model, X, y, validation_data
        self.settings = {"loss": get_loss(loss).name, **self._checked(batch_size=batch_size, l2=l2)}
        self.optimizer = optimizer
        self.seed = checks.seed(seed)  # the shuffle seed of the next train(); None once training has begun

    def train(self, epochs: int = 1, verbose: bool = True) -> dict:
        """Train ``epochs`` more epochs; returns the last epoch's metrics."""
        self.model.fit(self.X, self.y, optimizer=self.optimizer, epochs=epochs,
                       validation_data=self.validation_data, seed=self.seed, verbose=verbose, **self.settings)
        self.seed = None  # later rounds continue the same shuffle stream
        return {key: values[-1] for key, values in self.model.history.history.items()}

    def adjust(self, **changes) -> None:
        """Change ``batch_size``, ``l2`` or any optimizer hyperparameter (``lr``, ``beta1``, ...)."""
        settings = self._checked(**{name: changes.pop(name, self.settings[name]) for name in ("batch_size", "l2")})
        if changes:
            self.optimizer.set(**changes)  # checks every value before changing any
        self.settings.update(settings)

    def _checked(self, batch_size, l2) -> dict:
        """``batch_size`` (a positive int, or None for the whole set) and ``l2`` (>= 0, or one per model)."""
        return {"batch_size": None if batch_size is None else checks.positive_int(batch_size, "batch_size"),
                "l2": checks.non_negative(l2, "l2", checks.population(self.model.population))}

    def save(self, path) -> None:
        """Checkpoint weights, optimizer (state and settings), epoch, random state, history, these
        settings and the shuffle seed still to come, at any point, before the first train() too."""
        if self.model.optimizer is None:
            self.model.optimizer = self.optimizer  # not yet bound to the model: saved as configured
        save(self.model, path, metadata={**self.model.metadata,
                                         "babysitter": {**self.settings, "seed": self.seed}})

    @classmethod
    def resume(cls, path, X, y, validation_data=None) -> Babysitter:
        """Continue a checkpointed run with the same data."""
        model = load(path)
        settings = model.metadata.get("babysitter")
        if not isinstance(settings, dict) or model.optimizer is None:
            raise ValueError(f"{path!s} is a model file, not a Babysitter checkpoint (saved with "
                             "Babysitter.save); load it with xn.load, or start a Babysitter around it")
        missing = [key for key in CHECKPOINT_KEYS if key not in settings]
        if missing:
            raise ValueError(f"{path!s} is not a complete Babysitter checkpoint: its 'babysitter' metadata lacks "
                             f"{', '.join(map(repr, missing))} (Babysitter.save writes "
                             f"{', '.join(map(repr, CHECKPOINT_KEYS))})")
        try:
            return cls(model, X, y, settings["loss"], model.optimizer, settings["batch_size"], validation_data,
                       settings["l2"], seed=settings["seed"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path!s} is not a valid Babysitter checkpoint: {error}") from error

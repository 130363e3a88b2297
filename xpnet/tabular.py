"""Reading the data files the ``xpnet`` command trains on, and writing its CSV output.

A file becomes a :class:`Table`: named 1-D columns of equal length, each float64 (numbers) or text.

==============  ================================================================================
file            columns
==============  ================================================================================
``.csv``        the header row names them; a column whose every cell is a number is numeric
``.parquet``    the file's columns (needs pyarrow, the ``parquet`` extra)
``.npy``        a 2-D numeric array; column ``i`` is named ``"i"``; the target is the last column
                unless chosen by index (``"0"``, ``"-1"``)
``.npz``        the 2-D array ``"X"`` (or another name) gives the feature columns ``"0"``,
                ``"1"``, ...; every 1-D array (or ``(rows, 1)`` column) of the same length is a
                column under its own name, and ``"y"`` is the target unless another is chosen
==============  ================================================================================
"""
from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from xpnet import files

FORMATS = (".csv", ".npy", ".npz", ".parquet")
#: text cells that stand for a missing value (pandas' ``read_csv`` defaults), besides empty cells
MISSING_MARKS = ("#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                 "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


class DataError(ValueError):
    """A data or model file that cannot be used as asked: missing, unreadable, a bad column or value."""


@dataclasses.dataclass
class Table:
    """Columns read from ``path``: ``columns`` maps a name to a 1-D array (float64 or text), every
    one with ``rows`` entries; ``candidates`` are the feature columns unless one is the target, in
    file order; ``named`` is True when the names come from the file (CSV and Parquet headers)."""

    path: str
    columns: dict
    candidates: list
    default_target: str | None
    named: bool
    unusable: dict = dataclasses.field(default_factory=dict)  # name -> why it is not a column

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def target_name(self, target: str | None) -> str:
        """The column ``target`` names (for ``.npy`` a column index, negative counting from the end),
        or the file's default target when ``target`` is None."""
        if (target if target is not None else self.default_target) in self.unusable:
            name = target if target is not None else self.default_target
            raise DataError(f"{self.path}: {self.unusable[name]}, so it cannot be the target")
        if target is None:
            if self.default_target is None:
                raise DataError(f"{self.path}: name the target column with --target; columns: "
                                f"{_listing(self.columns)}")
            return self.default_target
        if target in self.columns:
            return target
        if not self.named and _is_integer(target) and -len(self.candidates) <= int(target) < len(self.candidates):
            return self.candidates[int(target)]
        raise DataError(f"{self.path}: no column {target!r}; columns: {_listing(self.columns)}")

    def feature_names(self, target: str | None) -> list:
        """Every candidate feature column except ``target``."""
        return [name for name in self.candidates if name != target]

    def numbers(self, name: str) -> np.ndarray:
        """Column ``name`` as finite float64 values; text or a missing value is a DataError."""
        column = self.column(name)
        if column.dtype.kind != "f":
            index, value = _first_non_number(column)
            raise DataError(f"{self.path}: column {name!r} is not numeric (row {index + 1} holds "
                            f"{value!r}); features must be numbers: encode or drop that column")
        return column

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` (float64 or text); a missing value (an empty cell, one of
        :data:`MISSING_MARKS`, NaN, inf) is a DataError."""
        column = self.columns[name]
        if column.dtype.kind == "f":
            missing = np.flatnonzero(~np.isfinite(column))
        else:
            cells = np.char.strip(column)
            missing = np.flatnonzero((np.char.str_len(cells) == 0) | np.isin(cells, MISSING_MARKS))
        if missing.size:
            raise DataError(f"{self.path}: column {name!r} has a missing or infinite value at row "
                            f"{missing[0] + 1}; fill or drop missing values first")
        return column

    def features(self, names: list) -> np.ndarray:
        """The columns ``names`` side by side: a float64 matrix ``(rows, len(names))``."""
        if not names:
            raise DataError(f"{self.path}: no feature columns left besides the target")
        return np.stack([self.numbers(name) for name in names], axis=1)


def read(path, features_array: str = "X") -> Table:
    """Read a ``.csv``, ``.npy``, ``.npz`` or ``.parquet`` file (``features_array``: the 2-D array of
    an ``.npz`` file that holds the features)."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    readers = {".csv": _read_csv, ".npy": _read_npy, ".parquet": _read_parquet,
               ".npz": lambda source: _read_npz(source, features_array)}
    if suffix not in readers:
        raise DataError(f"{path}: unknown file type {suffix or '(no suffix)'!r}; expected one of {FORMATS}")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        table = readers[suffix](path)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot be read as {suffix}: {error}") from error
    if table.rows == 0:
        raise DataError(f"{path}: no data rows")
    return table


def _read_csv(path: str) -> Table:
    with open(path, newline="", encoding="utf-8-sig") as file:
        lines = [row for row in csv.reader(file) if row]
    if not lines:
        raise DataError(f"{path}: empty file; expected a header row naming the columns")
    header = [name.strip() for name in lines[0]]
    _check_names(path, header)
    for number, row in enumerate(lines[1:], start=1):
        if len(row) != len(header):
            raise DataError(f"{path}: row {number} has {len(row)} fields, the header has {len(header)}")
    # cells are stripped as the header is: "a, b" and "a,b" hold the same values
    cells = np.char.strip(np.array(lines[1:], dtype=str).reshape(len(lines) - 1, len(header)))
    columns = {name: _numeric_or_text(cells[:, i]) for i, name in enumerate(header)}
    return Table(path, columns, header, None, named=True)


def _read_parquet(path: str) -> Table:
    try:
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError("reading .parquet files needs pyarrow: pip install 'xpnet[parquet]'") from error
    table = pyarrow.parquet.read_table(path)
    _check_names(path, table.column_names)
    columns = {name: _numeric_or_text(table.column(name).to_numpy(zero_copy_only=False))
               for name in table.column_names}
    return Table(path, columns, list(table.column_names), None, named=True)


def _read_npy(path: str) -> Table:
    array = np.load(path, allow_pickle=False)
    matrix = _numeric_matrix(path, "the array", array)
    names = [str(i) for i in range(matrix.shape[1])]
    columns = {name: matrix[:, i] for i, name in enumerate(names)}
    return Table(path, columns, names, names[-1], named=False)


def _read_npz(path: str, features_array: str) -> Table:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if features_array not in arrays:
        raise DataError(f"{path}: no array {features_array!r} of features; arrays: {_listing(arrays)}")
    matrix = _numeric_matrix(path, f"array {features_array!r}", arrays.pop(features_array))
    names = [str(i) for i in range(matrix.shape[1])]
    columns = {name: matrix[:, i] for i, name in enumerate(names)}
    unusable = {}
    for name, array in arrays.items():
        if array.ndim == 2 and array.shape[1] == 1:  # a column vector, as y often comes
            array = array[:, 0]
        if array.ndim == 1 and len(array) == matrix.shape[0] and name not in columns:
            columns[name] = _numeric_or_text(array)
        else:
            unusable[name] = (f"array {name!r} has shape {array.shape}, not ({matrix.shape[0]},): one value per "
                              f"row of {features_array!r}")
    default_target = "y" if "y" in columns or "y" in unusable else None
    return Table(path, columns, names, default_target, named=False, unusable=unusable)


def _numeric_matrix(path: str, what: str, array: np.ndarray) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] == 0:
        raise DataError(f"{path}: {what} must be 2-D (rows, columns), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or array.dtype.kind == "c":
        raise DataError(f"{path}: {what} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def _numeric_or_text(values) -> np.ndarray:
    """float64 when every value is a number (text that parses as one included), else text."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    if values.dtype.kind != "U":
        values = np.array(["" if value is None else str(value) for value in values.tolist()], dtype=str)
    try:
        return values.astype(np.float64)
    except ValueError:
        return values


def _first_non_number(column: np.ndarray) -> tuple:
    """``(index, text)`` of the first entry of a text column that is not a number."""
    for index, value in enumerate(column.tolist()):
        try:
            float(value)
        except ValueError:
            return index, value
    raise AssertionError("a text column in which every entry is a number")


def _check_names(path: str, names: list) -> None:
    seen = set()
    for index, name in enumerate(names):
        if name == "":
            raise DataError(f"{path}: column {index + 1} has no name in the header")
        if name in seen:
            raise DataError(f"{path}: column name {name!r} appears twice in the header")
        seen.add(name)


def _is_integer(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _listing(names, limit: int = 12) -> str:
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def write_csv(file, header: list, rows) -> None:
    """Write a header and rows (sequences of values, formatted with ``str``) to an open text file."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def save_csv(path, header: list, rows) -> None:
    """:func:`write_csv` to ``path`` (UTF-8) atomically: never a half-written file."""
    files.write_atomically(path, lambda file: write_csv(file, header, rows), text=True)

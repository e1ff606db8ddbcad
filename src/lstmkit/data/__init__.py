"""Data preparation: read and validate tables, split by time, scale, window, pad and batch.

Everything here is correct by construction: splits keep time order, windows never take a target from
a later split, scalers are fitted explicitly (on the training part), pads come with their lengths,
and bad input raises :class:`DataError` naming the column and row instead of being fixed silently.
Real data sets live in :mod:`lstmkit.data.datasets`.

This package knows nothing of models: it never imports ``lstmkit.nn``, ``lstmkit.train`` or
``lstmkit.tasks``.
"""
from lstmkit.data import datasets
from lstmkit.data.datasets import DatasetInfo, list_datasets, load_dataset
from lstmkit.data.errors import DataError, MissingDependencyError, NotFittedError
from lstmkit.data.padding import (
    BucketBatchSampler,
    LabelledSequences,
    collate,
    collate_labelled,
    pad_sequences,
    sequence_mask,
    unpad_sequences,
)
from lstmkit.data.scaling import MinMaxScaler, StandardScaler, scaler_from_dict
from lstmkit.data.splits import Fold, Split, split_windows, stratified_split, temporal_split, walk_forward
from lstmkit.data.frequency import infer_frequency, infer_season, seasonal_period
from lstmkit.data.tables import FILL_METHODS, read_table
from lstmkit.data.windowing import WindowDataset, make_windows, window_count

__all__ = [
    "FILL_METHODS",
    "BucketBatchSampler",
    "LabelledSequences",
    "DataError",
    "DatasetInfo",
    "Fold",
    "MinMaxScaler",
    "MissingDependencyError",
    "NotFittedError",
    "Split",
    "StandardScaler",
    "WindowDataset",
    "collate",
    "collate_labelled",
    "datasets",
    "infer_frequency",
    "infer_season",
    "list_datasets",
    "load_dataset",
    "make_windows",
    "pad_sequences",
    "read_table",
    "scaler_from_dict",
    "seasonal_period",
    "sequence_mask",
    "split_windows",
    "stratified_split",
    "temporal_split",
    "unpad_sequences",
    "walk_forward",
    "window_count",
]

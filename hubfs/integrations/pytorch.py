"""``ds.to_pytorch()``: a map-style dataset for ``torch.utils.data.DataLoader``, with any ``num_workers``.

Each worker process opens its own read-only ``Dataset`` on first use (the object pickles as url + token).
The DataLoader hands a worker whole batches (``__getitems__``), and a batch of consecutive samples is read
with one ``read_many`` range per tensor, so every sample is read once per epoch, in order, and the
DataLoader's ``prefetch_factor`` reads ahead.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from hubfs.dataset.schema import nest
from hubfs.integrations import dataset_and_indexes, need, read_columns, select_keys

_WIDEN = {np.dtype("uint16"): np.int32, np.dtype("uint32"): np.int64, np.dtype("uint64"): np.int64}


class TorchDataset:
    """Samples ``indexes`` of the dataset at ``url`` as dicts of torch tensors (Hub's TorchDataset)."""

    def __init__(self, url: str, token: Any, indexes: list[int], keys: list[str], transform: Callable | None,
                 inplace: bool, output_type: type):
        self.url, self.token, self.indexes, self.keys = url, token, indexes, keys
        self.transform, self.inplace, self.output_type = transform, inplace, output_type
        self._ds = None
        self._pid = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_ds": None, "_pid": None}

    def _dataset(self) -> Any:
        if self._ds is None or self._pid != os.getpid():  # one reader per process (DataLoader workers)
            from hubfs.dataset.dataset import Dataset

            self._ds, self._pid = Dataset(self.url, mode="r", token=self.token), os.getpid()
        return self._ds

    def __len__(self) -> int:
        return len(self.indexes)

    def _convert(self, value: Any) -> Any:
        if not self.inplace or isinstance(value, (str, bytes)):
            return value
        torch = need("torch", "torch")
        value = np.asarray(value)
        value = value.astype(_WIDEN[value.dtype]) if value.dtype in _WIDEN else value
        if not (value.flags.c_contiguous and value.flags.writeable):
            value = np.array(value)  # torch shares the memory: it must be ours and writable
        return torch.from_numpy(value)

    def _finish(self, flat: dict) -> Any:
        sample = nest({k: self._convert(v) for k, v in flat.items()})
        if self.transform is not None:
            sample = self.transform(sample)
        if self.output_type is not dict and isinstance(sample, dict):
            sample = self.output_type(sample.values())
        return sample

    def __getitems__(self, positions: list[int]) -> list:
        ds = self._dataset()
        wanted = [self.indexes[p] for p in positions]
        columns = read_columns(ds, self.keys, wanted)
        return [self._finish({k: columns[k][j] for k in self.keys}) for j in range(len(wanted))]

    def __getitem__(self, position: int) -> Any:
        if not -len(self) <= position < len(self):
            raise IndexError(f"sample {position} of a feed of {len(self)} samples")
        return self.__getitems__([position % len(self)])[0]

    def __iter__(self):
        block = 256
        for start in range(0, len(self), block):
            yield from self.__getitems__(list(range(start, min(start + block, len(self)))))


def to_pytorch(ds: Any, transform: Callable | None = None, inplace: bool = True, output_type: type = dict,
               indexes: Any = None, key_list: list[str] | None = None) -> TorchDataset:
    """Hub's ``to_pytorch(transform=None, inplace=True, output_type=dict, indexes=None, key_list=None)``."""
    need("torch", "torch")
    base, picked = dataset_and_indexes(ds, indexes)
    base.flush()  # the workers reopen it from the store
    if output_type not in (dict, list, tuple):
        raise ValueError(f"output_type must be dict, list or tuple, not {output_type!r}")
    return TorchDataset(base.url, base.token, picked, select_keys(base, key_list), transform, inplace, output_type)

"""``ds.to_tensorflow()``: a ``tf.data.Dataset`` of dicts nested like the schema, read in order through the
engine's range reads (one ``read_many`` per tensor for each block of samples)."""
from __future__ import annotations

from typing import Any

from hubfs.dataset.schema import nest
from hubfs.integrations import dataset_and_indexes, need, read_columns, select_keys

BLOCK = 256  # samples read ahead per tensor


def _spec(tf: Any, t: Any, include_shapes: bool) -> Any:
    if t.is_text:
        return tf.TensorSpec(shape=(), dtype=tf.string)
    shape = tuple(t.shape) if include_shapes else None
    return tf.TensorSpec(shape=shape, dtype=tf.as_dtype(t.dtype))


def to_tensorflow(ds: Any, indexes: Any = None, include_shapes: bool = False, key_list: list[str] | None = None) -> Any:
    """Hub's ``to_tensorflow(indexes=None, include_shapes=False, key_list=None)``."""
    tf = need("tensorflow", "tf")
    base, picked = dataset_and_indexes(ds, indexes)
    keys = select_keys(base, key_list)
    base.flush()
    url, token = base.url, base.token

    def generate():
        from hubfs.dataset.dataset import Dataset

        reader = Dataset(url, mode="r", token=token)
        for start in range(0, len(picked), BLOCK):
            block = picked[start:start + BLOCK]
            columns = read_columns(reader, keys, block)
            for j in range(len(block)):
                yield nest({k: columns[k][j] for k in keys})

    signature = nest({k: _spec(tf, base.tensor_type(k), include_shapes) for k in keys})
    return tf.data.Dataset.from_generator(generate, output_signature=signature)

"""The dataset engine: schema, storage, cache, tensors, datasets and views."""

"""Hub 1.x transforms: ``@hubfs.transform(schema, scheduler=..., workers=...)`` and its schedulers."""
from hubfs.compute.transform import Transform, TransformFunction, transform

__all__ = ["Transform", "TransformFunction", "transform"]

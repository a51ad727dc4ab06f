"""Schema types, importable as ``hubfs.schema`` like Hub 1.x's ``hub.schema``."""
from hubfs.dataset.schema import (Audio, BBox, ClassLabel, Image, Mask, Polygon, Primitive, Segmentation, Sequence,
                                  Tensor, Text, Video)

__all__ = ["Audio", "BBox", "ClassLabel", "Image", "Mask", "Polygon", "Primitive", "Segmentation", "Sequence",
           "Tensor", "Text", "Video"]

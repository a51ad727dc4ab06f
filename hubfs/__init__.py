"""hubfs: datasets for machine learning on zarr v3, with Hub 1.x's API, cloud stores and a FUSE view."""
from hubfs import exceptions, schema
from hubfs.dataset.dataset import Dataset, load
from hubfs.compute import Transform, transform
from hubfs.dataset.view import DatasetView, TensorView
from hubfs.errors import ReadModeException
from hubfs.integrations import attach as _attach

_attach(Dataset, DatasetView)

__all__ = ["Dataset", "DatasetView", "TensorView", "schema", "exceptions", "load", "ReadModeException", "transform",
           "Transform"]
__version__ = "0.1.0"

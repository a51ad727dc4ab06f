"""Hub 1.x's exception names (``hub.exceptions``), for programs that catch them.

Each is an alias of the hubfs error that is raised for the same mistake, so ``except
hubfs.exceptions.ReadModeException`` catches what ``except hub.exceptions.ReadModeException`` caught.
Every hubfs error also subclasses the builtin a caller would naturally catch (see ``hubfs.errors``).
"""
from hubfs.errors import (AddressNotFound, ClassLabelValueError, DatasetNotFoundError, HubfsError, IndexOutOfRangeError,
                          LockedError, MissingArgumentError, ModuleNotInstalledError, NotADatasetError,
                          ReadOnlyError, SampleShapeError, SchemaError, SchemaMismatchError, ShapeLengthError)

HubException = HubfsError
ReadModeException = ReadOnlyError
HubDatasetNotFoundException = DatasetNotFoundError
SchemaMismatchException = SchemaMismatchError
ShapeArgumentNotFoundException = MissingArgumentError
SchemaArgumentNotFoundException = MissingArgumentError
ShapeLengthException = ShapeLengthError
NotHubDatasetToOverwriteException = NotADatasetError
NotHubDatasetToAppendException = NotADatasetError
DirectoryNotEmptyException = NotADatasetError
ValueShapeError = SampleShapeError
ClassLabelValueError = ClassLabelValueError
OutOfBoundsError = IndexOutOfRangeError
LockedException = LockedError
ModuleNotInstalledException = ModuleNotInstalledError
DynamicTensorShapeException = SchemaError
AddressNotFound = AddressNotFound

__all__ = ["HubException", "ReadModeException", "HubDatasetNotFoundException", "SchemaMismatchException",
           "ShapeArgumentNotFoundException", "SchemaArgumentNotFoundException", "ShapeLengthException",
           "NotHubDatasetToOverwriteException", "NotHubDatasetToAppendException", "DirectoryNotEmptyException",
           "ValueShapeError", "ClassLabelValueError", "OutOfBoundsError", "LockedException",
           "ModuleNotInstalledException", "DynamicTensorShapeException", "AddressNotFound"]

"""The application on top of the library: the training command and dataset loaders."""

__version__ = "0.1.0"

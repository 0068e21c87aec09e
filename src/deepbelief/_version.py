"""The library's version: the bottom of the import graph, readable by every layer."""

__version__ = "0.2.0"

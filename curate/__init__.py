"""zhtune curation: raw instruction sets -> a versioned, fully accounted mix."""

__version__ = "0.1.0"

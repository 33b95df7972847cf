"""Statement writers: one module per file format, each ``Statement -> bytes``."""

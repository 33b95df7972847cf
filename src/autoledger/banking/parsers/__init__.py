"""Statement parsers, one module per file format, each matching ``statement.Parser``."""

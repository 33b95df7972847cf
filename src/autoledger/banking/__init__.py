"""Bank statement ingestion: bank accounts, statement parsers, imports and bank transactions."""

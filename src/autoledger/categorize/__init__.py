"""Categorization: which GL account a bank line belongs to, proposed with a confidence."""

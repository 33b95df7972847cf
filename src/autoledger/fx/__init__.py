"""Exchange rates, conversion and FX revaluation (ADR 0017)."""

"""Model-agnostic learning machinery: calibration, auto-booking policy, evaluation."""

"""Numbers: code generation, stable forms, compiled functions, simplification, the cross-check."""

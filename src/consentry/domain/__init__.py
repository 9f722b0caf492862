"""The domain's vocabulary and pure helpers: terms words, the clock (no I/O, no settings)."""

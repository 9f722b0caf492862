"""Reading the outside world: media decoding (decode/), dataset sources (sources/), bounded HTTP (http) and
the guard that keeps readers off the registry's own files (heldfiles).
"""

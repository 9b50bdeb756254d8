"""Microring-resonator weight banks (broadcast-and-weight): the ring line, the device, its
effects, presets and cost section."""

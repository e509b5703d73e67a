"""Drives a FarmBot-style gantry over the stock Farmduino firmware protocol.

`protocol` is the pure codec, `link` the transport (serial or in-process), `gantry` the
robot API. Nothing here knows whether the firmware on the other end is real or simulated.
"""

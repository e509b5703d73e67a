"""Finds plants and weeds in top-down photos and places them in bed millimetres."""

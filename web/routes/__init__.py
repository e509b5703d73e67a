"""Thin routes: each reads its input, calls a store or a pure function, renders or returns."""

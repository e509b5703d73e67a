"""Orders visits by the gantry's real travel time (the performance core)."""

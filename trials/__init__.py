"""Statistical field trials: randomized designs on beds, observations, analysis, exports."""

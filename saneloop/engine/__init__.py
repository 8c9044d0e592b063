"""Run mechanics: the loop's steps, checkpoints and resume, signals, many processes agreeing, gates."""

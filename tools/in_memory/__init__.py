"""In-memory implementations of the domain's ports, for unit tests and the evaluation simulator.

They live outside the `creative` layer on purpose: no Lambda uses them, so none carries them.
"""

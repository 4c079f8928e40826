"""Calibration of care-pathways against published statistics.

- ``calibration.parse``: published values ("10-15: 39%; 16+: 23%") as numbers.
- ``calibration.targets`` (+ ``targets.yaml``, built into ``targets.csv``): the targets and the model
  measure of each (``python -m calibration.targets``).
- ``calibration.report``: the fit report over a few seeds (``python -m calibration.report``).
- ``calibration.screening``: Morris screening of the assumption parameters (``python -m calibration.screening``).
- ``calibration.abc``: ABC-SMC (pyabc) over the parameters that matter (``python -m calibration.abc``).
- ``calibration.runs``: the historical run settings and fast parameter sets.
"""

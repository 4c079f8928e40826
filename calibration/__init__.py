"""Calibration of care-pathways against published statistics.

- ``calibration.parse``: published values ("10-15: 39%; 16+: 23%") as numbers.
- ``calibration.targets`` (+ ``targets.yaml``, built into ``targets.csv``): the targets and the model
  measure of each (``python -m calibration.targets``).
- ``calibration.runs``: the historical run settings and fast parameter sets.
- ``calibration.screening``: Morris screening of the assumption parameters on the targets
  (``python -m calibration.screening``).
- ``calibration.abc``: ABC-SMC (pyabc) over the parameters that matter (``python -m calibration.abc``); its
  posterior summary is ``calibration/posterior/`` (posterior.yaml, draws.csv).
- ``calibration.rise``: the rise in DoL applications split between the DoL threshold and the capacities.
- ``calibration.report``: the fit report over a few seeds (``python -m calibration.report``).
- ``calibration.sensitivity``: Morris over the assumptions on the headline metrics, the scenarios'
  paired differences and their ranking (``python -m calibration.sensitivity``).
"""

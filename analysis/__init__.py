"""Briefing-ready analysis of care-pathways results: charts, tables and the briefing pack.

    python -m analysis.briefing DIR          # DIR: an output folder of python -m sim.compare

``analysis.results`` loads a comparison folder (and calibration results), ``analysis.charts`` draws one
chart per function in the house style of ``analysis.style``, ``analysis.briefing`` puts charts, tables and
a plain-language report together.
"""

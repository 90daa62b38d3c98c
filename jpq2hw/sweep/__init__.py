"""`jpq2hw sweep SWEEP.yaml`: the accuracy-vs-hardware trade-off as a Pareto front, on Ray Tune.

spec.py    the SWEEP.yaml file as a typed SweepSpec (one-line errors, every trial's config checked first)
trial.py   one trial: compress -> build (bit-exact) -> estimate; a failure is a record, never an exception
tune.py    Ray Tune: local or a cluster (--address), grid search or Optuna's NSGA-II, resume from its state
pareto.py  the objectives and the non-dominated front
compare.py joint vs sequential methods at equal budget
pages.py   front.md / front.html (table and plot) through the project's Jinja environment
"""

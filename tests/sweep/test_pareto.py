"""The front: non-dominated bit-exact trials, in the direction each objective asks for."""

from jpq2hw.sweep.compare import comparison
from jpq2hw.sweep.pareto import dominates, pareto_front

OBJ = ("metric", "lut")


def rec(tid, metric, lut, status="ok", **point):
    return {"trial_id": tid, "metric": metric, "lut": lut, "status": status, "point": point or {"x": tid},
            "budget_epochs": 10}


def ids(front):
    return [r["trial_id"] for r in front]


def test_dominates():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (1, 2)) and not dominates((0, 3), (1, 2))


def test_front_keeps_trade_offs_and_drops_dominated():
    records = [rec("a", 0.98, 1000), rec("b", 0.95, 400), rec("c", 0.94, 500),  # c: worse and dearer than b
               rec("d", 0.90, 100), rec("e", 0.99, 5000, status="not_exact"), rec("f", None, None, "failed")]
    assert ids(pareto_front(records, OBJ, "max")) == ["a", "b", "d"]


def test_front_minimizes_a_metric_in_min_mode():
    records = [rec("a", 0.9, 100), rec("b", 0.5, 100), rec("c", 0.2, 300)]  # an error (EPE): lower is better
    assert ids(pareto_front(records, OBJ, "min")) == ["c", "b"]
    assert ids(pareto_front(records, OBJ, "max")) == ["a"]


def test_equal_trials_both_stay():
    assert ids(pareto_front([rec("a", 0.9, 100), rec("b", 0.9, 100)], OBJ, "max")) == ["a", "b"]


def test_comparison_rows_per_point_and_winner():
    records = [rec("1", 0.97, 900, method="joint", s=0.9), rec("2", 0.95, 900, method="ptq", s=0.9),
               rec("3", 0.80, 300, method="joint", s=0.98), rec("4", 0.85, 300, method="ptq", s=0.98),
               rec("5", None, None, "failed", method="joint", s=0.95)]
    records[1]["budget_epochs"] = 6
    cmp = comparison(records, {"method": ["joint", "ptq"], "s": [0.9, 0.95, 0.98]}, {"1", "4"}, "max")
    assert cmp["how"] == ["method"] and cmp["where"] == ["s"] and cmp["methods"] == ["joint", "ptq"]
    rows = {row["point"]["s"]: row for row in cmp["rows"]}
    assert rows[0.9]["best"] == "joint" and not rows[0.9]["equal_budget"]
    assert rows[0.98]["best"] == "ptq" and rows[0.98]["equal_budget"]
    assert rows[0.95]["best"] is None and rows[0.95]["cells"][1] is None
    joint = cmp["summary"][0]
    assert (joint["trials"], joint["ok"], joint["on_front"], joint["wins"]) == (3, 2, 1, 1)

"""`prefstat fit` over combinations of its options (issue 10): every combination either exits 0 with the
fit the Python API gives for the same arguments, or exits 2 with one `prefstat: error:` line (the API's
own message when the API rejects it). Never a traceback, never exit 0 with an option ignored.

The reference ("oracle") below spells out the CLI's contract in terms of the Python API:
``ComparisonTable.from_csv`` with every column option, then ``BradleyTerry(...).fit``; options that
cannot apply (--group without --cov cluster, --order without --order-effect, --n-bootstrap / --seed
without --cov bootstrap) are errors.
"""
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import prefstat as ps
from prefstat.cli import main

ITEMS = np.array(list("ABCD"))


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    """40 rows over 4 items: row columns (y, w, judge, o), count columns (lw, rw, t) and a text column s."""
    rng = np.random.default_rng(7)
    n = 40
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    df = pd.DataFrame({"l": ITEMS[a], "r": ITEMS[b], "y": rng.choice([0.0, 1.0, 0.5], n, p=[0.45, 0.45, 0.1]),
                       "w": rng.integers(1, 4, n).astype(float), "judge": rng.integers(0, 5, n),
                       "o": rng.choice([-1, 0, 1], n), "lw": rng.integers(0, 4, n), "rw": rng.integers(0, 4, n),
                       "t": rng.integers(0, 2, n), "s": rng.choice(["x", "y"], n)})
    path = tmp_path_factory.mktemp("fuzz") / "table.csv"
    df.to_csv(path, index=False)
    return path


def maybe(*values):
    return st.sampled_from((None, *values))


def rarely(value, otherwise, p=0.15):
    """``value`` with probability about p, else ``otherwise`` (a strategy or a constant)."""
    other = otherwise if isinstance(otherwise, st.SearchStrategy) else st.just(otherwise)
    k = round(1 / p)
    # sampled_from draws uniformly (integers would favour small values, i.e. the rare branch)
    return st.sampled_from(range(k)).flatmap(lambda u: st.just(value) if u == k - 1 else other)


@st.composite
def options(draw):
    """Mostly coherent combinations (so that about half of them fit), each option sometimes wrong or out of
    place: a missing or non-numeric column, count columns with --outcome or --weight, --group without
    --cov cluster, --order without --order-effect, bootstrap options without --cov bootstrap."""
    cov = draw(maybe("model", "robust", "cluster", "bootstrap"))
    counts = draw(st.booleans())
    order_effect = draw(st.booleans())
    bootstrap = cov == "bootstrap"
    return {
        "left": draw(rarely("nope", "l", 0.05)),
        "right": draw(rarely("l", "r", 0.05)),
        "outcome": draw(rarely(draw(st.sampled_from(["y", "w", "s", "nope"])), None if counts else "y")),
        "left_wins": draw(rarely(draw(st.sampled_from(["lw", "y"])), "lw" if counts else None, 0.1)),
        "right_wins": draw(rarely(draw(st.sampled_from(["rw", "nope"])), maybe("rw") if counts else None, 0.1)),
        "ties": draw(rarely("t", maybe("t") if counts else None, 0.1)),
        "weight": draw(rarely(draw(st.sampled_from(["w", "s", "nope"])), maybe("w") if not counts else None, 0.1)),
        "group": draw(rarely(draw(st.sampled_from(["judge", "nope"])), "judge" if cov == "cluster" else None, 0.1)),
        "order": draw(rarely(draw(st.sampled_from(["o", "w"])), maybe("o") if order_effect else None, 0.1)),
        "order_effect": order_effect,
        "cov": cov,
        "n_bootstrap": draw(rarely(20, maybe(20) if bootstrap else None, 0.05)),
        "seed": draw(rarely(3, maybe(3) if bootstrap else None, 0.05)),
        "reference": draw(maybe("A", "C", "D", "Z")),
        "alpha": draw(maybe(0.5)),
        "json": draw(st.booleans()),
    }


FLAGS = {"outcome": "--outcome", "left_wins": "--left-wins", "right_wins": "--right-wins", "ties": "--ties",
         "weight": "--weight", "group": "--group", "order": "--order", "cov": "--cov",
         "n_bootstrap": "--n-bootstrap", "seed": "--seed", "reference": "--reference", "alpha": "--alpha"}


def argv(opts, path, json_path):
    args = ["fit", str(path), "--left", opts["left"], "--right", opts["right"]]
    for key, flag in FLAGS.items():
        if opts[key] is not None:
            args += [flag, str(opts[key])]
    if opts["order_effect"]:
        args.append("--order-effect")
    if opts["json"]:
        args += ["--json", str(json_path)]
    return args


def oracle(opts, path):
    """("error", message or None for any message) or ("ok", (model, table)) from the Python API."""
    cov = opts["cov"] or "model"
    ignored = ((opts["group"] is not None and cov != "cluster") or (opts["order"] is not None and not opts["order_effect"])
               or ((opts["n_bootstrap"] is not None or opts["seed"] is not None) and cov != "bootstrap"))
    if ignored or all(opts[k] is None for k in ("outcome", "left_wins", "right_wins", "ties")):
        return "error", None  # the CLI's own message
    columns = {k: opts[k] for k in ("left", "right", "outcome", "weight", "group", "order", "left_wins",
                                    "right_wins", "ties")}
    try:
        table = ps.ComparisonTable.from_csv(path, **columns)
    except ValueError as err:
        return "error", f"prefstat: error: {err}"
    if opts["reference"] is not None and opts["reference"] not in set(map(str, table.items)):
        return "error", None  # the CLI names --reference
    bootstrap = {} if cov != "bootstrap" else dict(n_bootstrap=opts["n_bootstrap"] or 200,
                                                   random_state=opts["seed"] or 0)
    model = ps.BradleyTerry(reference=opts["reference"], order_effect=opts["order_effect"], cov_type=cov,
                            alpha=opts["alpha"] or 0.0, **bootstrap)
    try:
        model.fit(table)
    except ValueError as err:
        return "error", f"prefstat: error: {err}"
    return "ok", (model, table)


def estimates(model) -> pd.DataFrame:
    s = model.summary()
    return s.set_axis([str(i) for i in s.index])[["estimate", "stderr"]]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(opts=options())
def test_fit_options_give_the_api_fit_or_one_error_line(opts, table_csv, tmp_path, capsys, monkeypatch):
    fitted = []
    original_fit = ps.BradleyTerry.fit

    def spy(self, X, *args, **kwargs):
        fitted.append((self, X))
        return original_fit(self, X, *args, **kwargs)

    monkeypatch.setattr(ps.BradleyTerry, "fit", spy)
    verdict, expected = oracle(opts, table_csv)
    event(f"ok, cov {opts['cov'] or 'model'}, {'counts' if opts['left_wins'] else 'rows'}" if verdict == "ok" else f"error with {'the API' if expected else 'the CLI'}'s message")
    capsys.readouterr()
    fitted.clear()
    json_path = tmp_path / "fit.json"
    json_path.unlink(missing_ok=True)
    code = main(argv(opts, table_csv, json_path))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if verdict == "error":
        assert code == 2, (opts, captured.out)
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("prefstat: error: "), lines
        if expected is not None:
            assert lines[0] == expected
        assert not json_path.exists()
        return
    assert code == 0, (opts, captured.err)
    model, table = expected
    assert len(fitted) == 1
    cli_model, cli_table = fitted[0]
    # Same hyperparameters and the same rows: no option was dropped on the way.
    cli_params = cli_model.get_params()
    if cli_params["reference"] is not None:
        cli_params["reference"] = str(cli_params["reference"])
    assert cli_params == model.get_params()
    pd.testing.assert_frame_equal(cli_table.to_frame(), table.to_frame())
    # Same fit: estimates and standard errors to 1e-10 (both are the same deterministic computation).
    want = estimates(model)
    pd.testing.assert_frame_equal(estimates(cli_model), want, rtol=0, atol=1e-10)
    assert "estimate" in captured.out
    if opts["json"]:
        rows = json.loads(json_path.read_text())["parameters"]
        got = pd.DataFrame(rows).set_index("parameter")[["estimate", "stderr"]]
        np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=0, atol=1e-10)
    else:
        assert not json_path.exists()

"""What a forecasting run prints: the metrics table, which forecast was chosen and why, the settings
chosen from the data (``lstmkit forecast train``, ``backtest`` and ``lstmkit demo``)."""
from __future__ import annotations

import sys


def forecast_name(choice: dict | None) -> str:
    """The forecast's row label: ``LSTM (lstmkit)``, or what was chosen (``ar (chosen)``, ``LSTM+ar mean``)."""
    chosen = (choice or {}).get("forecast", "lstm")
    if chosen == "lstm":
        return "LSTM (lstmkit)"
    if chosen.startswith("mean of lstm and "):
        return f"LSTM+{chosen.rsplit(' ', 1)[1]} mean"
    return f"{chosen} (chosen)"


def print_metrics(result: dict, file=None, label: str | None = None) -> None:
    """The model and the baselines side by side, one row each (the LSTM alone among them when the
    forecast is a choice); ``label`` names the model's row (default: what the forecast is)."""
    file = file or sys.stdout
    names = [k for k in ("mae", "rmse", "smape", "mase") if k in result["model"]]
    rows = [(label or forecast_name(result.get("choice")), result["model"])] + list(result["baselines"].items())
    width = max(16, *(len(name) + 2 for name, _ in rows))
    print(f"{'':{width}}" + "".join(f"{n:>10}" for n in names), file=file)
    for name, metrics in rows:
        print(f"{name:{width}}" + "".join(f"{metrics[n]:>10.3f}" for n in names), file=file)


def _versus(value: float, others: dict) -> str:
    """'0.610, against lstm 0.800 (24% lower) and ar 0.650 (6% lower)'."""
    def change(other: float) -> str:
        if other <= 0 or value == other:
            return "the same"
        return f"{abs(1 - value / other):.0%} {'lower' if value < other else 'higher'}"
    return f"{value:.3f}, against " + " and ".join(f"{name} {other:.3f} ({change(other)})"
                                                   for name, other in others.items())


def print_choice(result: dict, file=None) -> None:
    """Which forecast won on the validation part and by how much, and how it did on the test part."""
    file = file or sys.stdout
    choice = result.get("choice") or {}
    if choice.get("combine") != "auto":
        print("forecast: the LSTM alone" + (" (--combine lstm)" if choice.get("combine") == "lstm" else ""),
              file=file)
        return
    chosen, best = choice["forecast"], choice["best_baseline"]
    scores = choice["validation_mase"]
    others = {name: scores[name] for name in dict.fromkeys(["lstm", best]) if name != chosen}
    where = ("the second half of the validation part, which early stopping did not watch" if choice.get("holdout")
             else "the validation part")
    count = f"{choice['validation_windows']} window" + ("s" if choice["validation_windows"] != 1 else "")
    print(f"forecast: {chosen}, chosen on {where} ({count}) among the "
          f"LSTM, the best baseline and their mean: MASE {_versus(scores[chosen], others)}", file=file)
    test = choice.get("test_mase", {})
    on_test = {("lstm" if name == "lstm_alone" else name): value for name, value in test.items()
               if name not in ("forecast", chosen)}
    if on_test:
        print(f"on the test part: MASE {_versus(test['forecast'], on_test)}", file=file)


def print_choices(split: dict, file=None) -> None:
    """What the run used, and why: season, horizon and input width (chosen from the data or given)."""
    file = file or sys.stdout
    why = split.get("why", {})
    for key, name in (("season", "season"), ("horizon", "horizon"), ("input_width", "input width")):
        reason = why.get(key)
        print(f"{name} {split[key]}" + (f": {reason}" if reason else ""), file=file)
    if split.get("seasons") is not None:  # the single-series forecaster's baselines
        seasons = ", ".join(map(str, split["seasons"])) or "none"
        print(f"seasons of the baselines {seasons}" + (f": {why['seasons']}" if why.get("seasons") else "")
              + (f"; mstl decomposes {', '.join(map(str, split['mstl_seasons']))}" if split.get("mstl_seasons")
                 else ""), file=file)


def print_result(result: dict, file=None) -> None:
    """``forecast train`` and ``demo``: the choices, the test part, the metrics table, the interval coverage."""
    file = file or sys.stdout
    split = result["split"]
    print_choices(split, file)
    steps = f"{split['horizon']} step" + ("s" if split["horizon"] != 1 else "")
    windows = f"{split['test_windows']} forecast window" + ("s" if split["test_windows"] != 1 else "")
    print(f"test part: rows {split['test'][0]}-{split['test'][1] - 1}, {windows} of "
          f"{steps} each; MASE is scaled by the mean in-sample error of the "
          + (f"seasonal naive forecast (season {split['season']}, as chosen above)" if split["season"] > 1
             else "naive forecast (no season)")
          + " on the training part: below 1 beats it", file=file)
    print_choice(result, file)
    print_metrics(result, file)
    for key, value in result["model"].items():
        if key.startswith("coverage_"):
            low, high = (float(q) for q in key.split("_")[1:])
            print(f"{high - low:.0%} interval (quantiles {low:g}-{high:g}): {value:.1%} of the test values fell "
                  "inside it", file=file)

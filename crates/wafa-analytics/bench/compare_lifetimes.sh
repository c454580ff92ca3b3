#!/usr/bin/env bash
# Compare wafa-analytics with Python `lifetimes` on identical synthetic data.
#
# * creates a throwaway venv in /tmp (lifetimes 0.11.3 needs old numpy/pandas/scipy on 3.11);
# * runs `cargo bench -p wafa-analytics` (release), which also exports its simulated customer
#   bases to CSV so both sides fit exactly the same (frequency, recency, T) data;
# * regenerates the transaction logs in numpy with the same counter-based splitmix64;
# * times lifetimes' BetaGeoFitter on 100k / 1M customers and
#   summary_data_from_transaction_data on 1M (and 10M unless WAFA_SKIP_10M=1) rows;
# * prints both side by side and checks that the BG/NBD parameters agree to 4 significant
#   digits and that the summaries agree.
#
# Usage: crates/wafa-analytics/bench/compare_lifetimes.sh   (from anywhere; takes ~2–4 minutes)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
VENV="${VENV:-/tmp/lifetimes-venv}"
WORK="${WORK:-/tmp/wafa-bench}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-analytics}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "numpy<2" "pandas<2.1" "scipy<1.13" "lifetimes==0.11.3"
fi

echo "== wafa-analytics (cargo bench, release)"
(cd "$REPO" && WAFA_BENCH_EXPORT_DIR="$WORK" cargo bench -q -p wafa-analytics --bench analytics 2>/dev/null) \
  | tee "$WORK/wafa.txt" | grep -v '^RESULT'

echo
echo "== lifetimes"
"$VENV/bin/python" - "$WORK" <<'PY'
import os, re, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from lifetimes import BetaGeoFitter
from lifetimes.utils import summary_data_from_transaction_data

work = sys.argv[1]
ours = {}
for line in open(os.path.join(work, "wafa.txt")):
    if line.startswith("RESULT "):
        parts = line.split()
        ours[parts[1]] = {k: float(v) for k, v in (p.split("=") for p in parts[2:])}

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
def mix(seed, i):
    z = np.uint64(seed) + (i + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))

def transactions(rows, customers):
    i = np.arange(rows, dtype=np.uint64)
    cust = (mix(1, i) % np.uint64(customers)).astype(np.int64)
    day = (mix(2, i) % np.uint64(730)).astype(np.int64)
    amount = (np.uint64(500) + mix(3, i) % np.uint64(20000)).astype(np.int64) / 100.0
    date = pd.Timestamp("2020-01-01") + pd.to_timedelta(day, unit="D")
    return pd.DataFrame({"customer": cust, "date": date, "amount": amount})

def sig4(a, b):
    return abs(a - b) <= 0.5e-4 * max(abs(a), abs(b))  # agree to 4 significant digits

rows_out = []
ok = True
for label in ["100k", "1m"]:
    d = pd.read_csv(os.path.join(work, f"customers_{label}.csv"))
    t = time.time()
    bgf = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    el = time.time() - t
    p = bgf.params_
    o = ours[f"bgnbd_{label}"]
    agree = all(sig4(p[k], o[k]) for k in ["r", "alpha", "a", "b"])
    ok &= agree
    rows_out.append((f"BG/NBD fit, {label} customers", el, o["seconds"]))
    print(f"BG/NBD {label}: lifetimes r={p['r']:.6f} alpha={p['alpha']:.6f} a={p['a']:.6f} b={p['b']:.6f}"
          f" | wafa r={o['r']:.6f} alpha={o['alpha']:.6f} a={o['a']:.6f} b={o['b']:.6f}"
          f" -> {'agree to 4 significant digits' if agree else 'DISAGREE'}")

sizes = [(1_000_000, 100_000)]
if os.environ.get("WAFA_SKIP_10M") != "1":
    sizes.append((10_000_000, 1_000_000))
for rows, customers in sizes:
    df = transactions(rows, customers)
    t = time.time()
    s = summary_data_from_transaction_data(df, "customer", "date", monetary_value_col="amount", freq="D")
    el = time.time() - t
    o = ours[f"summary_{rows}_u64"]
    same = (len(s) == o["customers"] and int(s["frequency"].sum()) == o["frequency_sum"]
            and abs(s["T"].sum() - o["t_sum"]) < 1 and abs(s["monetary_value"].sum() - o["monetary_sum"]) < 1e-3 * o["monetary_sum"])
    ok &= same
    print(f"summary {rows:,} rows: lifetimes customers={len(s)} frequency_sum={int(s['frequency'].sum())} "
          f"| wafa customers={int(o['customers'])} frequency_sum={int(o['frequency_sum'])} -> {'same' if same else 'DIFFERENT'}")
    rows_out.append((f"summary, {rows:,} rows", el, o["seconds"]))
    rows_out.append((f"summary, {rows:,} rows (String ids)", el, ours[f"summary_{rows}_string"]["seconds"]))

print()
print(f"{'task':<38}{'lifetimes s':>12}{'wafa s':>10}{'speed-up':>10}")
for name, theirs, mine in rows_out:
    print(f"{name:<38}{theirs:>12.3f}{mine:>10.3f}{theirs / mine:>9.1f}x")
print()
print("parameters and summaries agree" if ok else "MISMATCH between lifetimes and wafa")
sys.exit(0 if ok else 1)
PY

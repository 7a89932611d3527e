#!/usr/bin/env python3
"""Prints the load benchmark's table and ratios from run.sh's results TSV.

Columns of the TSV: case, sub-case, proxy, round, requests, req/s, p50, p99, CPU ticks of
the proxy process over the run, ticks per second, non-2xx responses, socket errors,
upstream connections the backend accepted during the run, 1-min load average at start.
"""
import statistics
import sys
from collections import OrderedDict

# (case, sub-case) -> list of (numerator proxy, denominator proxy, target or None)
TARGETS = {
    ("proxy", "plain"): [("authgate", "nginx", 1.0), ("authgate", "haproxy", None)],
    ("jwt", "hs256"): [("authgate", "haproxy", 0.8)],
    ("jwt", "rs256-repeated"): [("authgate", "haproxy", 0.5)],
    ("jwt", "rs256-fresh"): [("authgate", "haproxy", 1.0)],
    ("jwt", "hs256-fresh"): [("authgate", "haproxy", None)],
    ("cors", "policy"): [("authgate-large", "authgate-small", 1.05)],
}


def ms(s: str) -> float:
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 60e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float("nan")


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
    groups = OrderedDict()
    for r in rows:
        (case, sub, proxy, rnd, reqs, rps, p50, p99, ticks, hz, non2xx, errs, upconns, load) = r
        d = dict(proxy=proxy, round=int(rnd), reqs=int(reqs), rps=float(rps), p50=ms(p50), p99=ms(p99),
                 cpu_s=int(ticks) / int(hz), non2xx=int(non2xx), errs=int(errs), upconns=int(upconns),
                 load=float(load))
        d["us"] = d["cpu_s"] * 1e6 / max(1, d["reqs"])
        groups.setdefault((case, sub), []).append(d)

    hdr = f"{'case/sub-case':<20} {'proxy':<15} {'rnd':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} " \
          f"{'CPU us/req':>10} {'up conns':>8} {'non-2xx':>7} {'errors':>6} {'load1':>5}"
    print("Per run (CPU = utime+stime of the proxy process from /proc/PID/stat over the wrk run / requests):")
    print(hdr)
    print("-" * len(hdr))
    for (case, sub), ds in groups.items():
        for d in sorted(ds, key=lambda d: (d["proxy"], d["round"])):
            flag = "  INVALID" if d["non2xx"] or d["errs"] else ""
            print(f"{case + '/' + sub:<20} {d['proxy']:<15} {d['round']:>3} {d['rps']:>9.0f} {d['p50']:>8.2f} "
                  f"{d['p99']:>8.2f} {d['us']:>10.1f} {d['upconns']:>8} {d['non2xx']:>7} {d['errs']:>6} "
                  f"{d['load']:>5.1f}{flag}")
    print()
    print("Ratios of CPU us/request: median of the per-round ratios (each round runs both proxies back to back,")
    print("so a round's ratio is the fairest pair on a shared machine; the verdict uses it), the pooled ratio")
    print("(total CPU / total requests over all rounds), and every round's ratio in brackets:")
    verdicts = []
    for (case, sub), ds in groups.items():
        by = {}
        for d in ds:
            by.setdefault(d["proxy"], []).append(d)
        for num, den, target in TARGETS.get((case, sub), []):
            if num not in by or den not in by:
                continue
            pooled = lambda L: sum(x["cpu_s"] for x in L) * 1e6 / max(1, sum(x["reqs"] for x in L))
            a, b = pooled(by[num]), pooled(by[den])
            ratio = a / b if b else float("nan")
            rounds = sorted(set(x["round"] for x in by[num]) & set(x["round"] for x in by[den]))
            per = []
            for rn in rounds:
                x = next(x for x in by[num] if x["round"] == rn)
                y = next(y for y in by[den] if y["round"] == rn)
                per.append(x["us"] / y["us"] if y["us"] else float("nan"))
            med = statistics.median(per) if per else ratio
            invalid = any(x["non2xx"] or x["errs"] for x in by[num] + by[den])
            rps_ratio = (sum(x["rps"] for x in by[num]) / len(by[num])) / (sum(y["rps"] for y in by[den]) / len(by[den]))
            if target is None:
                verdict = "(informational)"
            elif invalid:
                verdict = f"target <= {target:.2f}: INVALID RUN (non-2xx or socket errors)"
            else:
                verdict = f"target <= {target:.2f}: " + ("MET" if med <= target else
                                                       f"MISSED by {100 * (med / target - 1):.0f}%")
            line = (f"  {case + '/' + sub:<20} {num + '/' + den:<30} median {med:5.2f}  pooled {ratio:5.2f}  "
                    f"[{', '.join(f'{p:.2f}' for p in per)}]  ({a:.1f} vs {b:.1f} us/req; req/s ratio {rps_ratio:.2f})  "
                    f"{verdict}")
            print(line)
            if target is not None:
                verdicts.append(line)
    print()
    print("Access logs were OFF for every proxy; each proxy ran one worker; wrk ran on the same 2 shared CPUs.")


if __name__ == "__main__":
    main()

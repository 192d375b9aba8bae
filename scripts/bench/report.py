"""Turns the raw output of scripts/bench.sh into tables (Markdown), a JSON summary and a plot.

usage:
  report.py OUT CRITERION_DIR        writes OUT/results.md, OUT/results.json, OUT/bench.png and
                                     prints the tables
  report.py --publish OUT BENCH.md [README.md]
                                     replaces the text between the bench markers in BENCH.md
                                     with OUT/results.md, and in README.md with the headline
"""

import json
import re
import statistics
import sys
from pathlib import Path

BEGIN = "<!-- bench:results:begin (scripts/bench.sh --publish writes this part) -->"
END = "<!-- bench:results:end -->"
HEADLINE_BEGIN = "<!-- bench:headline:begin (scripts/bench.sh --publish writes this part) -->"
HEADLINE_END = "<!-- bench:headline:end -->"

# The targets: (what, limit, unit of the limit).
TARGET_UNCACHED_NS = 1500
TARGET_CACHED_NS = 100
TARGET_PROCESS_MS = 2.0
TARGET_LIBRARY_BYTES = 5_000_000


def median(values):
    return statistics.median(values) if values else None


def fmt_time_ns(ns):
    if ns is None:
        return "not measured"
    if ns < 1000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1000:.2f} us"
    return f"{ns / 1e6:.2f} ms"


def ratio(a, b):
    return f"{a / b:,.0f}x" if a and b else "-"


def read_meta(out):
    meta = {}
    for line in (out / "meta.txt").read_text().splitlines():
        key, _, value = line.partition("=")
        meta[key] = value
    return meta


def read_criterion(directory):
    """full_id -> median ns, from criterion's JSON files."""
    results = {}
    for bench in Path(directory).glob("**/new/benchmark.json"):
        estimates = bench.with_name("estimates.json")
        if estimates.exists():
            full_id = json.loads(bench.read_text())["full_id"]
            results[full_id] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return results


def read_processes(out, tool):
    times = []
    for path in sorted(out.glob(f"process-{tool}-*.json")):
        times += json.loads(path.read_text())["results"][0]["times"]
    return [t * 1000 for t in times]  # ms


def read_threads(out):
    """(mode, threads) -> median calls per second, and -> median CPU ns per call."""
    runs, cpu = {}, {}
    for line in (out / "threads.txt").read_text().splitlines():
        fields = dict(part.split("=", 1) for part in line.split())
        key = (fields["mode"], int(fields["threads"]))
        runs.setdefault(key, []).append(float(fields["calls_per_s"]))
        cpu.setdefault(key, []).append(float(fields["cpu_ns_per_call"]))
    return ({key: median(v) for key, v in runs.items()}, {key: median(v) for key, v in cpu.items()})


def read_cold(out):
    c = {"load_us": [], "first_token_us": [], "total_us": []}
    for line in (out / "cold-c.txt").read_text().splitlines():
        for part in line.split():
            key, value = part.split("=")
            c[key].append(float(value))
    py = {tool: [float(x) for x in (out / f"cold-py-{tool}.txt").read_text().split()] for tool in ("ours", "boto3")}
    return {key: median(v) for key, v in c.items()}, {tool: median(v) for tool, v in py.items()}


def read_mysql(out):
    """mode -> (logins, median login ms, token us) from mysql-plugin-login.sh's table."""
    path = out / "mysql.txt"
    if not path.exists():
        skipped = out / "mysql-skipped.txt"
        return None, skipped.read_text().strip() if skipped.exists() else "(e) not run"
    rows = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("cache", "no-cache", "password", "cold"):
            try:
                token = " ".join(parts[3:])
                try:
                    token = f"{float(token):.0f} us"
                except ValueError:
                    pass
                rows[parts[0]] = (int(parts[1]), float(parts[2]), token)
            except ValueError:
                continue
    return rows, None


def read_strace(out):
    opened, connects = [], 0
    for line in (out / "strace.txt").read_text().splitlines():
        m = re.search(r'open(?:at)?\([^"]*"([^"]+)"', line)
        if m:
            opened.append(m.group(1))
        if re.search(r"\bconnect\(", line):
            connects += 1
    certs = [p for p in opened if re.search(r"ssl|cert|\.pem$|\.crt$", p, re.I)]
    aws = [p for p in opened if "/.aws" in p or "no-aws-" in p]
    total = None
    count = out / "strace-count.txt"
    if count.exists():
        for line in count.read_text().splitlines():
            parts = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  total"
            if parts and parts[-1] == "total" and len(parts) >= 5:
                total = int(parts[3])
    return {"opened": opened, "certificate_files": certs, "aws_files": aws, "connects": connects,
            "syscalls": total}


def loads(out):
    rows = []
    path = out / "loads.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.rsplit(" ", 2)
            if len(parts) == 3:
                rows.append((parts[0], parts[1], parts[2]))
    return rows


def verdict(value, limit):
    if value is None:
        return "not measured"
    return "**achieved**" if value <= limit else "**missed**"


def build(out, criterion_dir):
    meta = read_meta(out)
    crit = read_criterion(criterion_dir)
    ours_ms, aws_ms = read_processes(out, "ours"), read_processes(out, "aws")
    per_call = json.loads((out / "per_call.json").read_text())
    threads, threads_cpu = read_threads(out)
    cold_c, cold_py = read_cold(out)
    mysql, mysql_note = read_mysql(out)
    strace = read_strace(out)
    lib_bytes = int(meta["library_bytes"])

    uncached_ns, cached_ns = crit.get("token/uncached"), crit.get("token/cached")
    ours_proc, aws_proc = median(ours_ms), median(aws_ms)
    py = {name: per_call[name]["median_us"] for name in per_call}

    md = []
    md.append(f"Measured {meta['date']} on {meta['cpu']}, {meta['cores']} cores, {meta['memory']}, "
              f"{meta['os']}, kernel {meta['kernel']}; {meta['rustc']}, Python {meta['python']}, "
              f"awscli {meta['awscli']}, boto3 {meta['boto3']}, hyperfine {meta['hyperfine']}."
              + (" **Smoke run: tiny counts, numbers not meaningful.**" if meta["smoke"] == "1" else ""))
    md.append("")
    md.append("### Targets")
    md.append("")
    md.append("| target | goal | measured (median) | |")
    md.append("|---|---|---|---|")
    md.append(f"| token, uncached (`token_for`, cache off; day's signing key cached) | <= 1.5 us | "
              f"{fmt_time_ns(uncached_ns)} | {verdict(uncached_ns, TARGET_UNCACHED_NS)} |")
    md.append(f"| token from the cache (`token_for`, hit) | <= 100 ns | {fmt_time_ns(cached_ns)} | "
              f"{verdict(cached_ns, TARGET_CACHED_NS)} |")
    md.append(f"| `iam-db-auth token`, whole process | <= 2 ms | "
              f"{f'{ours_proc:.2f} ms' if ours_proc else 'not measured'} | {verdict(ours_proc, TARGET_PROCESS_MS)} |")
    md.append(f"| stripped `libiam_db_auth.so` | <= 5 MB | {lib_bytes / 1e6:.2f} MB ({lib_bytes:,} bytes) | "
              f"{verdict(lib_bytes, TARGET_LIBRARY_BYTES)} |")
    md.append("")
    md.append("### Side by side")
    md.append("")
    md.append("| what | iam-db-auth | boto3 / AWS CLI | ratio |")
    md.append("|---|---|---|---|")
    md.append(f"| (a) whole process, one token (`iam-db-auth token` / `aws rds generate-db-auth-token`), "
              f"{len(ours_ms)} / {len(aws_ms)} runs | {ours_proc:.2f} ms | {aws_proc:.1f} ms | "
              f"{ratio(aws_proc, ours_proc)} faster |")
    md.append(f"| (b) per call in Python, cache hit (ctypes `iam_token_get` / boto3) | {py['ours_cached']:.2f} us | "
              f"{py['boto3']:.1f} us | {ratio(py['boto3'], py['ours_cached'])} faster |")
    md.append(f"| (b) per call in Python, no cache (`iam_token_get_ext` + `IAM_FLAG_NO_CACHE` / boto3) | "
              f"{py['ours_uncached']:.2f} us | {py['boto3']:.1f} us | {ratio(py['boto3'], py['ours_uncached'])} faster |")
    md.append(f"| (d) cold start in Python: load + first token (ctypes / `import boto3` + client) | "
              f"{cold_py['ours'] / 1000:.1f} ms | {cold_py['boto3'] / 1000:.1f} ms | "
              f"{ratio(cold_py['boto3'], cold_py['ours'])} faster |")
    md.append("")
    md.append("### cargo bench (criterion, medians)")
    md.append("")
    if crit:
        md.append("| benchmark | time |")
        md.append("|---|---|")
        order = ["token/", "c_abi/", "region/", "sign/"]
        for full_id in sorted(crit, key=lambda k: (next((i for i, p in enumerate(order) if k.startswith(p)), 9), k)):
            md.append(f"| `{full_id}` | {fmt_time_ns(crit[full_id])} |")
    else:
        md.append("Not measured in this run (`cargo bench -- --test` only runs each benchmark once).")
    md.append("")
    md.append(f"### (c) Throughput through the C ABI ({meta['cores']} cores)")
    md.append("")
    md.append("Tokens per second from all threads (wall clock), and the CPU time the threads spent per token "
              "(what contention between threads costs, whatever share of the cores the machine gave the run):")
    md.append("")
    md.append("| threads | cache hit: tokens/s | CPU per token | no cache: tokens/s | CPU per token |")
    md.append("|---|---|---|---|---|")
    for n in sorted({k[1] for k in threads}):
        md.append(f"| {n} | {threads.get(('cached', n), 0):,.0f} | {threads_cpu.get(('cached', n), 0):,.0f} ns | "
                  f"{threads.get(('uncached', n), 0):,.0f} | {threads_cpu.get(('uncached', n), 0):,.0f} ns |")
    md.append("")
    md.append("### (d) Cold start, C program: `dlopen` + first token in a fresh process")
    md.append("")
    md.append(f"load {cold_c['load_us']:.0f} us + first token {cold_c['first_token_us']:.0f} us = "
              f"{cold_c['total_us']:.0f} us (medians).")
    md.append("")
    md.append("### (e) IAM logins through the MySQL plugin (MariaDB stand-in)")
    md.append("")
    if mysql:
        md.append("One connection after another (TLS, PAM running the verifier for each login), "
                  "`scripts/bench/mysql-plugin-login.sh`:")
        md.append("")
        md.append("| mode | logins | median login | logins per second | token step |")
        md.append("|---|---|---|---|---|")
        labels = {"cache": "token cache on", "no-cache": "token cache off (`IAM_DB_AUTH_CACHE=0`)",
                  "password": "token made beforehand, passed through", "cold": "one login per process"}
        for mode, (count, ms, tok) in mysql.items():
            md.append(f"| {labels.get(mode, mode)} | {count} | {ms:.2f} ms | {1000 / ms:.0f} | {tok} |")
    else:
        md.append(mysql_note)
    md.append("")
    md.append("### The CLI's fast path (strace of one `iam-db-auth token` with env credentials)")
    md.append("")
    md.append(f"{strace['syscalls'] or '?'} system calls; files opened: "
              + ", ".join(f"`{p}`" for p in strace["opened"]) + "; "
              + f"certificate files: {len(strace['certificate_files'])}; AWS files: {len(strace['aws_files'])}; "
              + f"connect() calls: {strace['connects']}.")
    md.append("")
    md.append("### Machine load during the run (1-minute load average before / after each part)")
    md.append("")
    md.append("| part | before | after |")
    md.append("|---|---|---|")
    for part, before, after in loads(out):
        md.append(f"| {part} | {before} | {after} |")
    md.append("")
    md.append(f"Counts: {meta['counts']}.")

    summary = {
        "meta": meta, "criterion_ns": crit,
        "process_ms": {"ours": ours_proc, "aws_cli": aws_proc},
        "python_per_call_us": py, "threads_calls_per_s": {f"{m}/{n}": v for (m, n), v in threads.items()},
        "threads_cpu_ns_per_call": {f"{m}/{n}": v for (m, n), v in threads_cpu.items()},
        "cold_c_us": cold_c, "cold_python_us": cold_py, "mysql": mysql, "strace": strace,
        "targets": {
            "uncached_ns": uncached_ns, "cached_ns": cached_ns, "process_ms": ours_proc, "library_bytes": lib_bytes,
        },
    }
    headline = [
        f"- **Per call**: a token from the cache in {fmt_time_ns(cached_ns)}, a freshly signed one in "
        f"{fmt_time_ns(uncached_ns)} (Rust API); from Python through ctypes {py['ours_cached']:.1f} us "
        f"(cache hit) and {py['ours_uncached']:.1f} us (no cache) against boto3's {py['boto3']:.0f} us: "
        f"**{ratio(py['boto3'], py['ours_cached'])}** and **{ratio(py['boto3'], py['ours_uncached'])} faster**.",
        f"- **Whole process**: `iam-db-auth token` {ours_proc:.1f} ms against "
        f"`aws rds generate-db-auth-token` {aws_proc:.0f} ms: **{ratio(aws_proc, ours_proc)} faster**.",
        f"- **Cold start** (load + first token, Python): {cold_py['ours'] / 1000:.1f} ms against "
        f"{cold_py['boto3'] / 1000:.0f} ms for `import boto3` + client + token: "
        f"**{ratio(cold_py['boto3'], cold_py['ours'])} faster**.",
        f"- **Threads**: {max(v for (m, _), v in threads.items() if m == 'cached') / 1e6:.1f} million cached and "
        f"{max(v for (m, _), v in threads.items() if m == 'uncached') / 1e6:.2f} million uncached tokens a second "
        f"through the C ABI on {meta['cores']} cores.",
    ]
    (out / "headline.md").write_text("\n".join(headline) + "\n")
    (out / "results.md").write_text("\n".join(md) + "\n")
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(out, crit, py, threads, ours_proc, aws_proc, meta)
    print("\n".join(md))


def plot(out, crit, py, threads, ours_proc, aws_proc, meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.5, 1.1, 0.8]})
    ours_color, theirs_color = "#1f77b4", "#d62728"

    bars = []
    if "token/cached" in crit:
        bars.append(("Rust API\ncache hit", crit["token/cached"] / 1000, ours_color))
        bars.append(("Rust API\nno cache", crit["token/uncached"] / 1000, ours_color))
    bars += [("Python ctypes\ncache hit", py["ours_cached"], ours_color),
             ("Python ctypes\nno cache", py["ours_uncached"], ours_color),
             ("boto3", py["boto3"], theirs_color)]
    labels, values, colors = zip(*bars)
    ax1.bar(labels, values, color=colors)
    ax1.set_yscale("log")
    ax1.set_ylabel("microseconds per token (log scale)")
    ax1.set_title("Per call")
    for i, v in enumerate(values):
        ax1.text(i, v * 1.15, f"{v * 1000:.0f} ns" if v < 1 else f"{v:.3g} us", ha="center", fontsize=9)
    ax1.tick_params(axis="x", labelsize=8)
    ax1.set_ylim(bottom=min(values) / 4, top=max(values) * 4)

    counts = sorted({n for _, n in threads})
    for mode, style in (("cached", "-o"), ("uncached", "-s")):
        ys = [threads.get((mode, n), 0) / 1e6 for n in counts]
        ax2.plot(counts, ys, style, label="cache hit" if mode == "cached" else "no cache", color=ours_color,
                 alpha=1.0 if mode == "cached" else 0.6)
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(counts)
    ax2.set_xticklabels([str(n) for n in counts])
    ax2.set_xlabel("threads")
    ax2.set_ylabel("million tokens per second")
    ax2.set_title(f"Threads, C ABI ({meta['cores']} cores)")
    ax2.legend()
    ax2.set_ylim(bottom=0)

    ax3.bar(["iam-db-auth\ntoken", "aws rds\ngenerate-db-auth-token"], [ours_proc, aws_proc],
            color=[ours_color, theirs_color])
    ax3.set_yscale("log")
    ax3.set_ylabel("milliseconds per process (log scale)")
    ax3.set_title("Whole process")
    for i, v in enumerate((ours_proc, aws_proc)):
        ax3.text(i, v * 1.15, f"{v:.3g} ms", ha="center", fontsize=9)
    ax3.set_ylim(bottom=min(ours_proc, aws_proc) / 4, top=max(ours_proc, aws_proc) * 4)
    ax3.tick_params(axis="x", labelsize=8)

    fig.suptitle(f"iam-db-auth vs boto3 and the AWS CLI ({meta['cpu']}, {meta['date'][:10]})", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "bench.png", dpi=110)


def replace_between(path, begin, end, body):
    text = Path(path).read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{path} lacks the bench markers {begin!r} ... {end!r}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    Path(path).write_text(head + begin + "\n\n" + body + "\n" + end + tail)


def publish(out, bench_md, readme=None):
    replace_between(bench_md, BEGIN, END, (out / "results.md").read_text())
    if readme:
        replace_between(readme, HEADLINE_BEGIN, HEADLINE_END, (out / "headline.md").read_text())


def main(argv):
    if len(argv) in (4, 5) and argv[1] == "--publish":
        publish(Path(argv[2]), *argv[3:])
    elif len(argv) == 3:
        build(Path(argv[1]), argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

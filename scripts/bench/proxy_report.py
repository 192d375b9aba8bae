"""The proxy benchmarks' report (scripts/bench/proxy.sh's OUT/proxy.json): the tables, with each
goal of issue 15 point 7 marked reached or not, and a plot (pgbench -S tps, direct against
through the proxy, by clients).

usage: proxy_report.py OUT                       writes OUT/proxy.md and OUT/proxy.png
       proxy_report.py --publish OUT BENCHMARKS.md PNG
                                                 also puts the tables into BENCHMARKS.md
                                                 (between the proxy markers) and the plot at PNG
"""

import json
import shutil
import sys
from pathlib import Path

BEGIN, END = "<!-- proxy results: begin -->", "<!-- proxy results: end -->"


def mark(ok: bool) -> str:
    return "reached" if ok else "**not reached**"


def tables(r: dict, meta: str) -> str:
    tps = r["pgbench_tps"]
    clients = sorted(tps["direct"], key=int)
    lines = [f"Measured {meta}.", "", "| clients | direct tps | through the proxy tps | proxy/direct |",
             "|---:|---:|---:|---:|"]
    for c in clients:
        d, p = tps["direct"][c], tps["proxy"][c]
        lines.append(f"| {c} | {d:,.0f} | {p:,.0f} | {p / d:.0%} |")
    lat = r["latency_p50_us"]
    storm, idle = r["storm"], r["idle"]
    added = lat["proxy"] - lat["direct"]
    ratio8 = tps["proxy"]["8"] / tps["direct"]["8"] if "8" in tps["direct"] else None
    lines += [
        "",
        "| goal | measured | |",
        "|---|---|---|",
        f"| throughput at 8 clients >= 90% of direct | {ratio8:.0%} | {mark(ratio8 >= 0.9)} |"
        if ratio8 is not None else "| throughput at 8 clients | not run | |",
        f"| added latency per query, p50, <= 50 us | {added:+.0f} us (direct {lat['direct']:.0f} us, "
        f"proxy {lat['proxy']:.0f} us) | {mark(added <= 50)} |",
        f"| (1 client: transactions over 10 ms) | direct {r['over_10ms_share']['direct']:.2%}, "
        f"proxy {r['over_10ms_share']['proxy']:.2%} | |" if "over_10ms_share" in r else None,
        f"| CPU per new connection (upstream TLS included) | {storm['cpu_us_per_connection']:.0f} us "
        f"over {storm['logins']} logins ({storm['logins'] / storm['seconds']:.0f} logins/s, "
        f"{storm['failed']} failed) | (no goal) |",
        f"| memory per idle session, {idle['sessions']} open, <= 64 KB | "
        f"{idle['kb_per_session']:.1f} KB (RSS {idle['rss_before_kb'] / 1024:.1f} -> "
        f"{idle['rss_after_kb'] / 1024:.1f} MB) | {mark(idle['kb_per_session'] <= 64)} |",
        f"| tokens signed in a storm: one per user per cache window | {storm['tokens_signed']} for "
        f"{storm['users']} users over {storm['upstream_logins']} logins | "
        f"{mark(storm['tokens_signed'] <= storm['users'])} |",
    ]
    return "\n".join(line for line in lines if line is not None) + "\n"


def plot(r: dict, path: Path) -> None:
    tps = r["pgbench_tps"]
    clients = sorted(tps["direct"], key=int)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plot_svg(r, path.with_suffix(".svg"))
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.38
    xs = range(len(clients))
    ax.bar([x - width / 2 for x in xs], [tps["direct"][c] for c in clients], width, label="direct (TLS)")
    ax.bar([x + width / 2 for x in xs], [tps["proxy"][c] for c in clients], width,
           label="through iam-db-auth proxy")
    ax.set_xticks(list(xs), [f"{c} client{'s' if c != '1' else ''}" for c in clients])
    ax.set_ylabel("pgbench -S transactions/s")
    ax.set_title("PostgreSQL through the proxy (same run, medians)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_svg(r: dict, path: Path) -> None:
    """A bar chart without matplotlib."""
    tps = r["pgbench_tps"]
    clients = sorted(tps["direct"], key=int)
    top = max(max(v.values()) for v in tps.values()) or 1
    bars = []
    for i, c in enumerate(clients):
        for j, (mode, colour) in enumerate((("direct", "#4878a8"), ("proxy", "#e08040"))):
            h = 200 * tps[mode][c] / top
            x = 60 + i * 120 + j * 40
            bars.append(f'<rect x="{x}" y="{230 - h:.0f}" width="36" height="{h:.0f}" fill="{colour}"/>')
        bars.append(f'<text x="{60 + i * 120}" y="250" font-size="12">{c} clients</text>')
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="460" height="270">'
        '<text x="10" y="16" font-size="13">pgbench -S tps: direct (blue), through the proxy (orange)</text>'
        + "".join(bars) + "</svg>\n")


def main() -> None:
    publish = sys.argv[1] == "--publish"
    out = Path(sys.argv[2] if publish else sys.argv[1])
    r = json.loads((out / "proxy.json").read_text())
    meta_file = out / "meta.txt"
    meta = {}
    if meta_file.exists():
        meta = dict(line.split("=", 1) for line in meta_file.read_text().splitlines() if "=" in line)
    where = (f"on {meta.get('date', 'this date')[:10]}, {meta.get('cpu', 'this CPU')}, "
             f"{meta.get('cores', '?')} cores shared with other work; pgbench {r['pgbench_seconds']} s "
             f"a run, {r['rounds']} alternating rounds")
    text = tables(r, where)
    (out / "proxy.md").write_text(text)
    plot(r, out / "proxy.png")
    print(text)
    if publish:
        bench_md, png = Path(sys.argv[3]), Path(sys.argv[4])
        if (out / "proxy.png").exists():
            shutil.copy(out / "proxy.png", png)
        doc = bench_md.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        bench_md.write_text(doc[:start] + "\n" + text + doc[end:])


if __name__ == "__main__":
    main()

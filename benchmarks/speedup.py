"""The shape the experiment and model benchmarks share: the same export and import, with the
tool's default worker pool and with ``--workers 1``, on the same servers in the same run.

Each export and import runs in a fresh process (``benchmarks.measure``), so its wall time and
peak RSS are its own; the caller checks each import's result on the destination.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlflow_migrate_plugin.transfer.engine import DEFAULT_WORKERS

from . import harness


@dataclass
class Pass:
    """One export + import at a given pool size."""

    workers: int | None  # None: the tool's default
    export: harness.Measured
    import_: harness.Measured

    @property
    def seconds(self) -> float:
        return self.export.seconds + self.import_.seconds

    @property
    def label(self) -> str:
        return f"default ({DEFAULT_WORKERS})" if self.workers is None else str(self.workers)


def measure_passes(
    root: Path,
    server_a: harness.Server,
    server_b: harness.Server,
    tool_python: str | None,
    export_args: Callable[[Path], list[str]],
    import_args: Callable[[Path, str], list[str]],
    check: Callable[[str], None],
) -> list[Pass]:
    """Export from A then import to B with the default pool, then with one worker.
    ``export_args`` gets the export directory, ``import_args`` the same and a suffix for
    destination names ("default" or "w1"); each command is given its server's
    ``--tracking-uri``. ``check`` gets the suffix after the import and raises if the destination
    is not complete."""
    servers = {"A": server_a, "B": server_b}
    passes = []
    for workers in (None, 1):
        suffix = "default" if workers is None else f"w{workers}"
        option = [] if workers is None else ["--workers", str(workers)]
        out = root / f"export-{suffix}"
        results = []
        for step, args, uri in (
            ("export", export_args(out), server_a.url),
            ("import", import_args(out, suffix), server_b.url),
        ):
            label = f"{step}, workers {'default' if workers is None else workers}"
            cli = [*args, "--tracking-uri", uri, *option]
            results.append(harness.step(label, "cli", cli, root, servers, tool_python))
        check(suffix)
        passes.append(Pass(workers, *results))
    return passes


def results(
    name: str,
    workload: dict,
    passes: list[Pass],
    target_speedup: float | None,
    target_rss_mb: float,
) -> dict:
    """The figures as JSON; ``target_speedup`` None: the speed-up is reported, not judged."""
    pool, one = passes
    peak = max(max(p.export.peak_rss_mb, p.import_.peak_rss_mb) for p in passes)
    speedup = one.seconds / pool.seconds
    return {
        "benchmark": name,
        "machine": harness.machine(),
        "workload": workload,
        "passes": [
            {
                "workers": p.label,
                "export": p.export.row(),
                "import": p.import_.row(),
                "seconds": p.seconds,
            }
            for p in passes
        ],
        "speedup": speedup,
        "export_speedup": one.export.seconds / pool.export.seconds,
        "import_speedup": one.import_.seconds / pool.import_.seconds,
        "peak_rss_mb": peak,
        "targets": {
            "speedup": target_speedup,
            "peak_rss_mb": target_rss_mb,
            "speedup_met": None if target_speedup is None else speedup >= target_speedup,
            "rss_met": peak < target_rss_mb,
        },
    }


def table(data: dict, what: str) -> str:
    rows = [
        [
            p["workers"],
            f"{p['export']['seconds']:.2f}",
            f"{p['import']['seconds']:.2f}",
            f"{p['seconds']:.2f}",
            f"{p['export']['peak_rss_mb']:.0f}",
            f"{p['import']['peak_rss_mb']:.0f}",
        ]
        for p in data["passes"]
    ]
    t = data["targets"]
    judged = (
        ""
        if t["speedup"] is None
        else f"; target >= {t['speedup']}x: {'met' if t['speedup_met'] else 'NOT met'}"
    )
    return (
        harness.heading(what, data["workload"]["server_workers"], data["machine"])
        + "\n\n"
        + harness.markdown_table(
            rows,
            [
                "workers",
                "export s",
                "import s",
                "total s",
                "export peak RSS MB",
                "import peak RSS MB",
            ],
        )
        + f"\n\nspeed-up of the default pool over one worker: **{data['speedup']:.1f}x** "
        f"(export {data['export_speedup']:.1f}x, import {data['import_speedup']:.1f}x"
        f"{judged}); peak RSS "
        f"{data['peak_rss_mb']:.0f} MB (target < {t['peak_rss_mb']}: "
        f"{'met' if t['rss_met'] else 'NOT met'})"
    )


def publish(
    name: str,
    workload: dict,
    passes: list[Pass],
    target_speedup: float | None,
    target_rss_mb: float,
    what: str,
) -> None:
    """:func:`results` and :func:`table`, written as ``benchmarks/results/<name>-<time>.*`` (with
    dashes for underscores) and printed."""
    data = results(name, workload, passes, target_speedup, target_rss_mb)
    harness.publish(name.replace("_", "-"), data, table(data, what))

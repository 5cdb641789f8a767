"""Run one measured job in this (fresh) process and write its wall time and peak RSS as JSON.

    python -m benchmarks.measure RESULT_FILE floor-artifacts '{"src_uri": ..., ...}'
    python -m benchmarks.measure RESULT_FILE cli export-run --run-id ... --output-dir ...

Each job runs in a process of its own so that its peak RSS (``ru_maxrss``) is its own. MLflow and
the tool are imported before the clock starts, so the time is the job's alone; the RSS after those
imports is reported as ``import_rss_mb`` (it depends on what is installed: with the full
``mlflow`` package, ``import mlflow`` loads pandas, numpy and pyarrow).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    Linux's ``ru_maxrss`` survives ``exec``: a child forked from a large benchmark process would
    report the parent's size. ``VmHWM`` belongs to the current program image alone.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    result_file, job, *args = argv
    import mlflow  # noqa: F401  (imported before the clock starts, see above)

    import mlflow_migrate_plugin.api  # noqa: F401
    from mlflow_migrate_plugin.cli import migrate

    from . import floor

    import_rss = peak_rss_mb()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    status = 0
    detail = None
    if job == "cli":
        try:
            migrate.main(args, prog_name="mlflow-migrate", standalone_mode=False)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    elif job == "floor-artifacts":
        detail = floor.copy_artifacts(**json.loads(args[0]))
    elif job == "floor-metrics":
        detail = floor.copy_metrics(**json.loads(args[0]))
    elif job == "floor-server":
        detail = floor.copy_server(**json.loads(args[0]))
    elif job == "floor-experiment":
        detail = floor.copy_experiment(**json.loads(args[0]))
    else:
        raise SystemExit(f"unknown job {job!r}")
    seconds = time.perf_counter() - started
    with open(result_file, "w") as f:
        json.dump(
            {
                "job": job,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds() - cpu_before,
                "peak_rss_mb": peak_rss_mb(),
                "import_rss_mb": import_rss,
                "status": status,
                "detail": detail,
            },
            f,
        )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

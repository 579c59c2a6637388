"""A real Spark standalone cluster for the Spark tests: one master and one worker process
started from the pyspark distribution's ``spark-class`` on this machine, as a chain would run
them on its own (docs/operations.md, "Spark on a cluster").

One cluster per test process: under ``pytest -n 2`` each xdist worker starts its own on
ports of its own, so nothing is shared and nothing waits for another worker. Small: the
master and worker daemons get 256 MB each, the worker offers one core and 1 GB, an
application's executor takes 512 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_START_TIMEOUT_S = 180.0  # two JVMs on two busy cores

# The JVMs of a test run live minutes and do little work each: compiling hot code with the
# optimising compiler (C2) and collecting garbage on parallel threads costs more CPU than it
# saves them. The client compiler alone and the serial collector (the same code, run the
# same way; only how the JVM compiles and collects it differs). The Spark session's driver
# and executor take them too (tests/analytics/conftest.py).
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1"


@dataclass
class SparkCluster:
    master_url: str
    web_url: str
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def logs(self) -> str:
        """The daemons' log tails (for a failure message)."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
                state = json.load(response)
        except (OSError, ValueError):
            return 0
        return int(state.get("aliveworkers", 0))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def missing_java() -> str | None:
    """Why a cluster cannot start here, or None."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "the Spark tests need Java 17+ (no java on the PATH and JAVA_HOME unset)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(spark_home: Path, base: Path) -> SparkCluster:
    """Start a master and a worker; return once the worker has registered."""
    spark_class = spark_home / "bin" / "spark-class"
    log_dir = base / "logs"
    work_dir = base / "work"
    log_dir.mkdir(parents=True)
    work_dir.mkdir()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_DAEMON_JAVA_OPTS": TEST_JVM_OPTIONS,
        "SPARK_LOG_DIR": str(log_dir),
        "SPARK_WORKER_DIR": str(work_dir),
        "SPARK_NO_DAEMONIZE": "1",
    }
    port, web_port, worker_web_port = _free_port(), _free_port(), _free_port()
    cluster = SparkCluster(
        master_url=f"spark://127.0.0.1:{port}",
        web_url=f"http://127.0.0.1:{web_port}",
        log_dir=log_dir,
    )
    commands = {
        "master": [
            str(spark_class),
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web_port),
        ],
        "worker": [
            str(spark_class),
            "org.apache.spark.deploy.worker.Worker",
            "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
            "--webui-port", str(worker_web_port), "--work-dir", str(work_dir),
            cluster.master_url,
        ],
    }  # fmt: skip
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("wb")
            cluster.processes.append(
                subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while cluster.alive_workers() < 1:
            if any(p.poll() is not None for p in cluster.processes):
                raise RuntimeError("a Spark daemon exited at start:\n" + cluster.logs())
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no Spark worker registered within {_START_TIMEOUT_S:.0f} s:\n"
                    + cluster.logs()
                )
            time.sleep(0.5)
    except BaseException:
        cluster.stop()
        raise
    return cluster

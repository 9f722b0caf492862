"""Running scans and the index on a Ray cluster (``pip install 'consentry[ray]'``; docs/cluster.md).

Ray is optional: nothing here imports it until a cluster is asked for.

- :class:`~consentry.cluster.executor.RayExecutor`: a scan's items read,
  decoded, fingerprinted and identified by worker actors on the cluster,
  the results streamed back to the process that writes the registry
  (``consentry scan SOURCE --ray ADDRESS``).
- :mod:`consentry.cluster.shards` and :mod:`consentry.cluster.index`: the
  index split into shards by work, each served by an actor that
  memory-maps its part; a query fans out to every shard and the answers
  merge into the matches one index gives.
"""

from __future__ import annotations

import os
import socket

from consentry.domain.errors import ConsentryError

#: How ``--ray auto`` is resolved: ``RAY_ADDRESS``, else a cluster started on this machine.
AUTO = "auto"
#: Seconds a cluster's head has to accept a connection before ``--ray`` gives up.
CONNECT_TIMEOUT_S = 10.0


class ClusterError(ConsentryError):
    """The Ray cluster cannot be reached, or lost a worker for good."""


def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed; pip install 'consentry[ray]' to run on a cluster") from None
    return ray


def connect(address: str = AUTO) -> str:
    """Join the Ray cluster at ``address`` (``host:port``, ``ray://host:port``, or ``auto``); returns its address.

    ``auto`` takes ``RAY_ADDRESS`` when set, else a cluster already started
    on this machine (``ray start --head``).  Joining twice is a no-op.
    """
    ray = import_ray()
    address = (address or AUTO).strip()
    if ray.is_initialized():
        return _current_address(ray, address)
    # Ray retries an unreachable head for minutes: a head that does not answer is an error at once.
    _check_reachable(os.environ.get("RAY_ADDRESS", "") if address == AUTO else address, asked=address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=True,
                 include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"--ray {address}: cannot join the Ray cluster ({first[:200]})") from None
    return _current_address(ray, address)


def _check_reachable(address: str, *, asked: str) -> None:
    """Raise :class:`ClusterError` unless ``host:port`` accepts a connection within :data:`CONNECT_TIMEOUT_S`.

    Addresses that are not ``host:port`` (empty for ``auto`` without
    ``RAY_ADDRESS``, ``ray://…``) are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not host or "://" in host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"--ray {asked}: no Ray cluster answers at {address} ({exc.strerror or exc}); "
                           "start one with `ray start --head` or give its head's host:port") from None


def _current_address(ray, asked: str) -> str:
    """The address as given, or for ``auto`` the head's address as Ray reports it."""
    if asked != AUTO:
        return asked
    try:
        return ray.get_runtime_context().gcs_address or asked
    except Exception:  # noqa: BLE001 - only for display
        return asked


def cluster_cpus() -> int:
    """CPUs the joined cluster offers (at least 1)."""
    ray = import_ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))

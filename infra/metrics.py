"""The Metrics port over Powertools: each data point is one CloudWatch EMF document.

`single_metric` prints its EMF blob to stdout at once, with the data point's own
dimensions (a provider, a manager type, a stop reason), so counts from any thread need no
flush; the namespace is POWERTOOLS_METRICS_NAMESPACE (`LettaGroups` without it) and the
`service` dimension POWERTOOLS_SERVICE_NAME. A data point that cannot be written is logged,
never raised: metrics do not fail a request. `properties` become EMF metadata: kept with the point,
searchable in Logs Insights, never a dimension.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

logger = logging.getLogger(__name__)


class PowertoolsMetrics:
    def __init__(self, namespace: str | None = None) -> None:
        self._namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LettaGroups")

    def count(
        self,
        name: str,
        value: float = 1,
        *,
        properties: dict[str, str] | None = None,
        **dimensions: str,
    ) -> None:
        self._put(name, MetricUnit.Count, value, properties, dimensions)

    def timing(
        self, name: str, ms: float, *, properties: dict[str, str] | None = None, **dimensions: str
    ) -> None:
        self._put(name, MetricUnit.Milliseconds, ms, properties, dimensions)

    def _put(
        self,
        name: str,
        unit: MetricUnit,
        value: float,
        properties: dict[str, str] | None,
        dimensions: dict[str, str],
    ) -> None:
        try:
            with single_metric(
                name=name, unit=unit, value=value, namespace=self._namespace
            ) as metric:
                for key, dimension in dimensions.items():
                    metric.add_dimension(name=key, value=dimension)
                for key, property_value in (properties or {}).items():
                    metric.add_metadata(key=key, value=property_value)
        except Exception:
            logger.warning("metric %s could not be written", name, exc_info=True)

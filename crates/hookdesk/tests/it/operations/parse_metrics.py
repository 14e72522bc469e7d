"""Parses a /metrics answer (on stdin) with the official Prometheus Python client's parser
and prints its samples as JSON: [{"family", "type", "name", "labels", "value"}].

argv[1] names the format: `openmetrics` (the strict OpenMetrics 1.0 parser) or `prometheus`
(the text format 0.0.4 parser). A text either parser refuses exits non-zero with its error.
"""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus

parse = {"openmetrics": openmetrics, "prometheus": prometheus}[sys.argv[1]]
samples = []
for family in parse(sys.stdin.read()):
    for sample in family.samples:
        value = sample.value
        samples.append({
            "family": family.name,
            "type": family.type,
            "name": sample.name,
            "labels": sample.labels,
            "value": None if math.isnan(value) else value,
        })
print(json.dumps(samples))

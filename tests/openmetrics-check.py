# SPDX-License-Identifier: Apache-2.0
"""Parses OpenMetrics text on stdin with prometheus_client's parser (which raises on any breach
of the format: a missing "# EOF", a histogram whose _count is not its +Inf bucket, ...) and
prints one "family type samples" line per family, for the test to look at."""
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    print(family.name, family.type, len(family.samples))

/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_METRICS_H
#define IC_SERVER_METRICS_H

#include <stdbool.h>
#include <stdio.h>

/* Writes every metric family once: Prometheus text format 0.0.4, or OpenMetrics 1.0.0 (ending in
 * "# EOF") when openmetrics is set. Any thread registered with liburcu, outside a read-side
 * section; reads the per-thread counters as they are at that instant (doc/design.md §14). */
void ic_metrics_write(FILE *f, bool openmetrics);

#endif

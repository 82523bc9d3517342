// SPDX-License-Identifier: GPL-3.0-or-later
// Prometheus text exposition format (version 0.0.4) for `status` and `power`: one file that
// node_exporter's textfile collector can read.  No sample timestamps (the collector refuses
// them); the time of the run is a metric of its own.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/inventory.hpp"
#include "core/output.hpp"
#include "core/power_report.hpp"

namespace fleetpower {

/// A label value escaped for the exposition format: backslash, double quote and line feed.
std::string prometheus_escape_label(std::string_view v);
/// HELP text escaped (backslash and line feed).
std::string prometheus_escape_help(std::string_view v);
/// A sample value: shortest round-trip decimal, "+Inf"/"-Inf"/"NaN" for those.
std::string prometheus_value(double v);

using Labels = std::vector<std::pair<std::string, std::string>>;
/// `name{a="x",b="y"} value\n` (no braces without labels).
std::string prometheus_sample(std::string_view name, const Labels& labels, double value);

/// Per node: fleetpower_up, fleetpower_power_state, fleetpower_last_error; with `power` also
/// fleetpower_power_watts, fleetpower_power_reading_available and the circuit, PDU, phase and
/// feed aggregates; always fleetpower_scrape_timestamp_seconds and _duration_seconds.
void write_prometheus(std::ostream& os, const RunReport& run, const Inventory& inv,
                      const PowerReport* power, double unix_time);

}  // namespace fleetpower

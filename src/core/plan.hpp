// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/inventory.hpp"
#include "core/types.hpp"

namespace fleetpower {

/// Power-aware start plan: when each node may start so that no circuit budget is exceeded
/// and starts alternate across the phases of each feed.  Pure: computed on a virtual clock.
struct PowerPlan {
  struct Start {
    const Target* target;
    Millis at;          ///< offset from the start of the run
    double start_watts;  ///< load counted while it starts
  };
  struct CircuitSummary {
    std::string circuit, feed, phase;
    std::size_t nodes = 0;
    Millis first{0}, last{0};
    std::size_t peak_starting = 0;  ///< most nodes starting at once
    double peak_watts = 0;          ///< highest starting load at any instant
    int max_concurrent = 0;
    double max_watts = 0;
    Millis min_spacing{0};
  };
  std::vector<Start> starts;  ///< in start order
  std::map<std::string, CircuitSummary> circuits;
  Millis start_duration{0};   ///< how long a node counts as starting
  Millis duration{0};         ///< last start + start_duration
  std::vector<std::string> problems;  ///< e.g. a node whose start load exceeds its circuit budget
  bool constrained = false;   ///< any circuit has a budget
};

/// Start load of a node: `start_watts`, else watts x power.start_watts_factor (default 1),
/// else power.default_watts (default 0).
double start_watts_of(const Target& t, const Inventory& inv);
double nominal_watts_of(const Target& t, bool* known);

PowerPlan make_power_plan(const Inventory& inv, const std::vector<const Target*>& targets);

/// Nominal load per feed/phase/circuit, and the imbalance between the phases of each feed.
struct PhaseReport {
  struct Phase {
    double watts = 0;
    std::size_t nodes = 0;
    std::map<std::string, double> circuits;  ///< circuit -> watts
  };
  struct Feed {
    std::map<std::string, Phase> phases;
    double imbalance = 0;  ///< (max - min) / mean over the feed's phases
  };
  std::map<std::string, Feed> feeds;
  std::vector<std::string> unknown_watts;  ///< hosts without a wattage (not counted as zero)
  std::vector<std::string> unplaced;       ///< hosts with no phase
};
PhaseReport make_phase_report(const Inventory& inv, const std::vector<const Target*>& targets);

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/target.hpp"

namespace fleetpower {

/// One problem found in an input file, with its position (1-based; 0 = unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;  ///< the offending key or path ("groups.rack1.bmc")
  std::string message;
  bool warning = false;

  std::string str() const;  ///< "inv.yaml:12:5: groups.rack1.bmc: 39 addresses for 40 hosts"
};

/// A power circuit (branch circuit, PDU feed) with its budgets.  Used by the planner.
struct Circuit {
  std::string name;
  std::string feed;     ///< the feed (upstream) it belongs to; phases are balanced per feed
  std::string phase;    ///< L1/L2/L3 when the circuit is single-phase
  int max_concurrent_starts = 0;  ///< 0 = unlimited
  double max_watts = 0;           ///< budget for inrush/start load; 0 = unlimited
  long long min_spacing_ms = 0;   ///< minimum time between two starts on this circuit
};

struct Inventory {
  std::string path;
  std::vector<Target> targets;  ///< in definition order
  std::map<std::string, std::size_t> by_name;
  /// group name -> member node names (children resolved, definition order)
  std::map<std::string, std::vector<std::string>> groups;
  std::map<std::string, Circuit> circuits;
  /// Top-level `power:` settings (start_watts_factor, start_duration, ...)
  std::map<std::string, std::string> power;

  const Target* find(std::string_view name) const;
};

/// Keys a target may carry (defaults, group level, vars, per-host).  Documented in
/// fleetpower-inventory(5).
const std::vector<std::string_view>& known_target_keys();

/// Load and validate an inventory.  Every problem is appended to *diags; returns false if any
/// was an error (warnings alone do not fail).  Never throws.
bool load_inventory(const std::string& path, Inventory* out, std::vector<Diagnostic>* diags);
/// Same from a string (tests).
bool load_inventory_text(const std::string& text, const std::string& name, Inventory* out,
                         std::vector<Diagnostic>* diags);

/// Default inventory location: $FLEETPOWER_INVENTORY, ./fleetpower.yaml,
/// /etc/fleetpower/inventory.yaml (first that exists; else the first candidate).
std::string default_inventory_path();

/// Closest candidates by edit distance, for "did you mean".
std::vector<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& pool,
                                      std::size_t max = 3);

/// Resolve a selection (hostlists, @groups, --all) against the inventory.
struct Selection {
  std::vector<std::string> include;  ///< hostlist expressions or @group
  std::vector<std::string> exclude;
  bool all = false;
};
bool resolve_selection(const Inventory& inv, const Selection& sel,
                       std::vector<const Target*>* out, std::string* err);

}  // namespace fleetpower

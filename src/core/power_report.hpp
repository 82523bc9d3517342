// SPDX-License-Identifier: GPL-3.0-or-later
// Measured power: per-node readings aggregated per circuit, PDU and feed/phase, the imbalance
// between the phases of each feed, and a greedy rebalancing suggestion.  Pure: no I/O.
#pragma once

#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/inventory.hpp"
#include "core/output.hpp"

namespace fleetpower {

/// One node's reading with its place in the power topology (from the inventory).
struct NodeReading {
  const Target* target = nullptr;
  std::optional<double> watts;            ///< unset: no reading (never counted as zero)
  std::string circuit, pdu, feed, phase;  ///< "" when the inventory does not say
};

/// A sum over the nodes of a circuit, PDU or phase.  `watts` is the sum over the `reporting`
/// nodes only; `nodes` counts every selected node placed there.
struct PowerSum {
  double watts = 0;
  std::size_t nodes = 0;
  std::size_t reporting = 0;
  std::vector<std::string> missing;  ///< nodes placed here without a reading
  bool complete() const { return reporting == nodes; }
};

/// A suggested move of one node from the heaviest phase of a feed to its lightest.
struct PhaseMove {
  std::string node;
  double watts = 0;
  std::string from_phase, to_phase;
  std::string from_circuit,
      to_circuit;  ///< to_circuit: the lightest circuit on to_phase ("" if none)
};

struct FeedReport {
  std::string feed;
  std::map<std::string, PowerSum> phases;        ///< phase -> sum
  double mean = 0;                               ///< mean phase load
  double spread = 0;                             ///< max - min phase load (W)
  double imbalance = 0;                          ///< spread / mean (0 when mean is 0)
  std::vector<PhaseMove> moves;                  ///< greedy suggestion, in order
  double spread_after = 0, imbalance_after = 0;  ///< once every move is made
  bool complete() const;
};

struct PowerReport {
  std::vector<NodeReading> nodes;  ///< selection order
  std::map<std::string, PowerSum> circuits, pdus;
  std::map<std::string, FeedReport> feeds;  ///< feed ("" = none given) -> phases
  PowerSum total;
  std::vector<std::string> no_phase;  ///< nodes with no phase (not in any feed's balance)
};

/// Where a target sits: circuit, pdu, feed, phase from its vars, filled in from its circuit's
/// declaration (power.circuits) when the target does not say.
void place_target(const Inventory& inv, const Target& t, NodeReading* out);

/// Aggregates readings.  Moves: for each feed with at least two phases, repeatedly take the
/// heaviest and the lightest phase and move the reporting node of the heaviest phase whose
/// draw is closest to half their difference (only a node lighter than the difference, so the
/// spread between the two strictly shrinks) while that lowers the feed's spread (max - min), at
/// most `max_moves` times per feed.
PowerReport make_power_report(const Inventory& inv, const std::vector<NodeReading>& readings,
                              std::size_t max_moves = 8);
/// Readings from a finished run (Outcome::watts).
PowerReport make_power_report(const Inventory& inv, const RunReport& run,
                              std::size_t max_moves = 8);

/// "1234 W", "1234.5 W".
std::string format_watts(double w);

/// Text: per node (folded where identical unless `expand`), then per circuit, PDU and feed.
void write_power_text(std::ostream& os, const RunReport& run, const PowerReport& pr, bool expand);
/// The aggregate part as JSON (circuits, pdus, feeds with imbalance and moves, total).
boost::json::object power_aggregates_json(const PowerReport& pr);
/// {"command", "summary", "hosts": [... "watts": number|null ...], "power": aggregates}
void write_power_json(std::ostream& os, const RunReport& run, const PowerReport& pr);

}  // namespace fleetpower

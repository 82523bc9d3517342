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

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace fleetpower {

/// Enforces the circuit budgets at run time, on the actual moments power actions happen:
/// a node may start only when its circuit has room (concurrent starts, starting watts, spacing).
/// The plan gives the order; the governor makes the budget hold whatever the BMCs' latency.
///
/// A start happens somewhere between the grant (the request is sent) and the BMC's reply, so a
/// start counts from its grant until start_duration after its reply, and the next start on a
/// circuit is granted no earlier than min_spacing after the previous reply: the budgets then
/// hold exactly at the BMCs, even when a request is retransmitted.
class PowerGovernor : public std::enable_shared_from_this<PowerGovernor> {
 public:
  PowerGovernor(boost::asio::any_io_executor ex, const Inventory& inv, const PowerPlan& plan);
  struct Ticket;
  /// `go(ticket)` once `t` may send its power-on; `go(nullptr)` if cancelled first.  Exactly once.
  void acquire(const Target& t, boost::asio::cancellation_slot slot,
               std::function<void(std::shared_ptr<Ticket>)> go);
  /// The BMC answered (or the answer was lost): `happened` false only when the BMC refused the
  /// action, which releases the room at once.
  void replied(const std::shared_ptr<Ticket>& ticket, bool happened);
  /// Grants so far: (target, circuit, grant time, reply time), for tests.
  struct Grant {
    std::string target, circuit;
    Clock::time_point at;
    double watts;
  };
  const std::vector<Grant>& grants() const { return grants_; }

 private:
  struct Waiter {
    std::size_t order;
    const Target* target;
    double watts;
    std::function<void(std::shared_ptr<Ticket>)> go;
    bool done = false;
  };
  struct CircuitState {
    Circuit def;
    std::vector<std::shared_ptr<Waiter>> waiting;
    std::vector<std::shared_ptr<Ticket>> active;  // granted, counting
    Clock::time_point next_allowed{};              // spacing after the last reply
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  void pump(const std::string& circuit);
  boost::asio::any_io_executor ex_;
  const Inventory& inv_;
  Millis start_duration_;
  std::map<std::string, std::size_t> order_;
  std::map<std::string, CircuitState> circuits_;
  std::vector<Grant> grants_;
};

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"

namespace fleetpower {

/// The deterministic fake BMC fleet behind `--protocol test` and the engine's unit tests.
/// Behaviour is scripted per target through inventory keys:
///   test_state: on|off          initial power state (default off)
///   test_delay: DURATION        how long each operation takes (default 2ms)
///   test_transition: DURATION   how long a power change stays "powering on/off" (default 0)
///   test_fail: KIND[:message]   every operation fails with that error kind (auth, timeout, ...)
///   test_hang: true             never answers: completes only when cancelled
///   test_read_after: true       on/off report the state read right after the action (fact
///                               state_after), as the IPMI backend does in the same session
///   test_read_first: true       reads_first(): power actions read the state, decide and act in
///                               one exchange (Request::read_first), as the IPMI backend does
class TestBackend final : public Backend {
 public:
  struct Event {
    std::string target;
    Action action;
    Clock::time_point at;
  };
  explicit TestBackend(asio::any_io_executor ex);
  ~TestBackend() override;
  std::string_view name() const override { return "test"; }
  void start(OpContext ctx, CompletionFn done) override;
  bool reads_first(const Target& t) const override;

  /// Power actions actually carried out, in order (checked by tests: never twice).
  const std::vector<Event>& events() const { return events_; }
  PowerState state_of(const std::string& target) const;
  /// Status operations answered (reads and polls), to check how often the fleet layer polls.
  int status_reads() const { return status_reads_; }
  /// Operations started (one per exchange with the BMC).
  int starts() const { return starts_; }
  /// On/off actions answered with the state read right after them (test_read_after).
  int read_backs() const { return read_backs_; }
  /// The last operation's deadlines (OpContext::deadline and read_deadline).
  std::pair<Clock::time_point, Clock::time_point> last_deadlines() const { return last_deadlines_; }

 private:
  struct Node {
    bool initialised = false;
    PowerState settled = PowerState::Off;
    PowerState target = PowerState::Off;
    Clock::time_point settles_at{};
  };
  Outcome apply(const OpContext& ctx, Node& n);
  asio::any_io_executor ex_;
  std::map<std::string, Node> nodes_;
  std::vector<Event> events_;
  int status_reads_ = 0;
  int starts_ = 0;
  int read_backs_ = 0;
  std::pair<Clock::time_point, Clock::time_point> last_deadlines_{};
};

}  // namespace fleetpower

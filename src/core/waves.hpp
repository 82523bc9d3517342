// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <optional>
#include <string>

#include "core/scheduler.hpp"

namespace fleetpower {

/// Maintenance-window policy: waves, a canary, a failure threshold.
struct WavePolicy {
  std::size_t batch = 0;        ///< targets per wave (0: one wave)
  double batch_percent = 0;     ///< or a share of the selection (0 < p <= 100)
  Millis batch_delay{0};        ///< pause between waves
  std::size_t canary = 0;       ///< act on this many first; continue only if all succeeded
  std::optional<std::size_t> max_fail;  ///< stop starting new targets once failures exceed this
  double max_fail_percent = -1;         ///< or this share of the selection

  /// Parses "20" or "10%" into batch/batch_percent (and max-fail the same way).
  static bool parse_count(const std::string& s, std::size_t* n, double* pct);
};

/// Runs `jobs` in waves on `sched` (same io_context), calling `on_wave` before each wave
/// (index, size).  Returns one Outcome per job in input order.  Targets not started because of
/// the canary, the failure threshold or an interrupt are `not attempted` with the reason.
/// `on_result` gets the index into `jobs` as each target completes.
std::vector<Outcome> run_waves(asio::io_context& io, Scheduler& sched, std::vector<Job> jobs,
                               const WavePolicy& p,
                               const std::function<void(std::size_t, const Outcome&)>& on_result = {},
                               const std::function<void(std::size_t, std::size_t)>& on_wave = {});

}  // namespace fleetpower

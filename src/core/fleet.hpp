// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/plan.hpp"
#include "core/scheduler.hpp"

namespace fleetpower {

/// How a power action is carried out per target on top of single backend operations.
struct FleetOptions {
  Millis op_timeout{std::chrono::seconds(10)};  ///< one backend operation
  bool wait = true;                             ///< verify the end state by polling
  Millis wait_timeout{std::chrono::seconds(120)};
  Millis soft_wait_timeout{std::chrono::seconds(300)};
  bool force = false;            ///< act even when already in the target state
  std::optional<Millis> then_force;  ///< soft: force off whatever is still on after this
  bool dry_run = false;          ///< read state, report what would change, send nothing
  Millis poll_initial{std::chrono::milliseconds(1000)};
  Millis poll_max{std::chrono::milliseconds(5000)};
  /// When set, power-ons (on, cycle, and the power-on of an off node) wait for room on
  /// their circuit before the action is sent.
  std::shared_ptr<PowerGovernor> governor;
};

/// The time a job may take in total under these options (its scheduler timeout).
Millis fleet_job_timeout(Action a, const FleetOptions& o);

/// A Runner that turns a request into a verified fleet operation:
///  - on/off: read state; if already there report "already on/off" and send nothing (unless
///    force); else act, then poll until the state is reached ("on"/"off") or wait_timeout.
///  - cycle/reset: a node that is off is powered on ("on (was off)"); else act and wait for on.
///  - soft: graceful shutdown, wait for off; with then_force, force off after that long.
///  - an action whose reply was lost is never sent twice: the state is read instead.
///  - dry_run: read state only; result "would power off" / "already off".
/// Other actions (status, nmi, bootdev, identify, probe) pass through unchanged.
Runner make_fleet_runner(FleetOptions o);

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetpower {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

/// What the user asked to do to a target.  One closed enum; names in action_name().
enum class Action : std::uint8_t {
  Status,
  On,
  Off,
  Cycle,
  Reset,
  Soft,
  Nmi,
  BootDev,
  Identify,
  Probe,
  PowerReading,  ///< read the node's current draw (DCMI / Redfish Power, EnvironmentMetrics)
};

/// Power state as reported by a BMC.
enum class PowerState : std::uint8_t { Unknown, On, Off, PoweringOn, PoweringOff };

/// The class of a per-target result.  Exit codes and folding are derived from it.
enum class ErrorKind : std::uint8_t {
  None,          ///< success
  NoResponse,    ///< nothing ever answered
  Timeout,       ///< a step timed out after the BMC had answered something
  Auth,          ///< unknown user, bad password, bad K_g
  Privilege,     ///< authenticated but not allowed
  Unsupported,   ///< action / cipher / reset type not supported by this BMC
  Busy,          ///< BMC busy and stayed busy until the deadline
  Protocol,      ///< malformed or unexpected reply
  Tls,           ///< certificate verification failed
  Connection,    ///< refused, reset, unreachable
  BmcError,      ///< BMC answered with an error (completion code, HTTP 4xx/5xx)
  Config,        ///< our side: missing credentials, bad inventory value for this host
  Interrupted,   ///< Ctrl-C while in flight
  NotAttempted,  ///< never started (deadline, max-fail, interrupt before start)
  Internal,      ///< a bug: should never be seen
};

std::string_view action_name(Action a);
std::optional<Action> parse_action(std::string_view s);
std::string_view power_state_name(PowerState s);
std::optional<PowerState> power_state_from_name(std::string_view s);  /// inverse of power_state_name
std::string_view error_kind_name(ErrorKind k);
bool is_destructive(Action a);

/// Boot device for Action::BootDev.
enum class BootDevice : std::uint8_t { None, Pxe, Disk, Bios, Cdrom };
std::string_view boot_device_name(BootDevice d);
std::optional<BootDevice> parse_boot_device(std::string_view s);

/// What a backend is asked to do for one target.
struct Request {
  Action action = Action::Status;
  BootDevice bootdev = BootDevice::None;
  bool persistent = false;  ///< bootdev: Continuous instead of Once
  bool efi = false;         ///< bootdev: UEFI boot mode
  /// identify: -1 off, 0 on indefinitely, >0 seconds
  int identify_seconds = 15;
  /// on/off/soft/cycle/reset, for a backend whose reads_first() is true: read the power state
  /// first in the same session, decide with decide_power() (without --force), and send the
  /// decided action or nothing.  The outcome then carries the facts "state_before" (once the
  /// state was read), "acted" (the action sent, or "none" when the node already was in the
  /// asked state) and "read_ms" (when the action was sent, from the start of the operation).
  bool read_first = false;
  /// on/off: read the state once more right after the BMC accepted the action, in the same
  /// session or connection (fact "state_after"), so the fleet layer can verify without a poll.
  /// Off under --no-wait, where nothing would use it.
  bool read_back = true;
};

/// What to send for a power action given the state read first (without --force): nothing when
/// the node already is in the asked state ("already on"); cycle or reset of a node that is off
/// powers it on (note " (was off)").
struct PowerDecision {
  bool send = false;
  Action action = Action::Status;
  std::string result;  ///< when !send: "already on" / "already off"
  std::string note;    ///< when send: appended to the final result
};
PowerDecision decide_power(Action asked, PowerState now);

/// The result of one operation on one target.  Produced exactly once by a backend
/// (or by the scheduler for time-outs, interrupts and never-started targets).
struct Outcome {
  ErrorKind error = ErrorKind::None;
  PowerState state = PowerState::Unknown;  ///< last state known, if any
  /// Short result word(s) on success: "on", "off", "ok", "already on", "pxe (once)".
  std::string result;
  /// On failure: human reason naming the step ("timed out waiting for RAKP 2 (check the password)").
  std::string reason;
  Millis elapsed{0};
  int retransmits = 0;
  /// PowerReading: the node's current draw in watts.  Unset when the BMC has no reading
  /// (never zero for "unknown"); `reading_note` then says why ("DCMI not supported").
  std::optional<double> watts;
  std::string reading_note;
  /// Extra facts for JSON output (vendor, firmware, boot device, fault bits...).
  std::vector<std::pair<std::string, std::string>> facts;

  bool ok() const { return error == ErrorKind::None; }

  static Outcome success(std::string result, PowerState st = PowerState::Unknown) {
    Outcome o;
    o.result = std::move(result);
    o.state = st;
    return o;
  }
  static Outcome failure(ErrorKind k, std::string reason) {
    Outcome o;
    o.error = k;
    o.reason = std::move(reason);
    return o;
  }
};

/// The single line used to fold identical results together: "on", "error: timeout ...".
std::string outcome_text(const Outcome& o);

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/types.hpp"

#include <array>

#include "core/target.hpp"

namespace fleetpower {

namespace {
struct ActionName {
  Action action;
  std::string_view name;
};
constexpr std::array kActions{
    ActionName{Action::Status, "status"}, ActionName{Action::On, "on"},
    ActionName{Action::Off, "off"},       ActionName{Action::Cycle, "cycle"},
    ActionName{Action::Reset, "reset"},   ActionName{Action::Soft, "soft"},
    ActionName{Action::Nmi, "nmi"},       ActionName{Action::BootDev, "bootdev"},
    ActionName{Action::Identify, "identify"}, ActionName{Action::Probe, "probe"},
    ActionName{Action::PowerReading, "power"},
};
}  // namespace

std::string_view action_name(Action a) {
  for (const auto& e : kActions)
    if (e.action == a) return e.name;
  return "?";
}

std::optional<Action> parse_action(std::string_view s) {
  for (const auto& e : kActions)
    if (e.name == s) return e.action;
  return std::nullopt;
}

PowerDecision decide_power(Action asked, PowerState now) {
  const bool on = now == PowerState::On || now == PowerState::PoweringOn;
  const bool off = now == PowerState::Off || now == PowerState::PoweringOff;
  PowerDecision d;
  if ((asked == Action::On && on) || ((asked == Action::Off || asked == Action::Soft) && off)) {
    d.result = on ? "already on" : "already off";
    return d;
  }
  d.send = true;
  d.action = asked;
  if ((asked == Action::Cycle || asked == Action::Reset) && off) {
    d.action = Action::On;  // cycle/reset of a node that is off powers it on (documented)
    d.note = " (was off)";
  }
  return d;
}

bool is_destructive(Action a) {
  switch (a) {
    case Action::Off:
    case Action::Soft:
    case Action::Cycle:
    case Action::Reset:
    case Action::Nmi:
      return true;
    default:
      return false;
  }
}

std::string_view power_state_name(PowerState s) {
  switch (s) {
    case PowerState::On: return "on";
    case PowerState::Off: return "off";
    case PowerState::PoweringOn: return "powering on";
    case PowerState::PoweringOff: return "powering off";
    case PowerState::Unknown: break;
  }
  return "unknown";
}

std::optional<PowerState> power_state_from_name(std::string_view s) {
  for (auto st : {PowerState::On, PowerState::Off, PowerState::PoweringOn, PowerState::PoweringOff,
                  PowerState::Unknown})
    if (power_state_name(st) == s) return st;
  return std::nullopt;
}

std::string_view error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::None: return "ok";
    case ErrorKind::NoResponse: return "no-response";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Auth: return "auth";
    case ErrorKind::Privilege: return "privilege";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Busy: return "busy";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::Tls: return "tls";
    case ErrorKind::Connection: return "connection";
    case ErrorKind::BmcError: return "bmc-error";
    case ErrorKind::Config: return "config";
    case ErrorKind::Interrupted: return "interrupted";
    case ErrorKind::NotAttempted: return "not-attempted";
    case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

std::string_view boot_device_name(BootDevice d) {
  switch (d) {
    case BootDevice::Pxe: return "pxe";
    case BootDevice::Disk: return "disk";
    case BootDevice::Bios: return "bios";
    case BootDevice::Cdrom: return "cdrom";
    case BootDevice::None: break;
  }
  return "none";
}

std::optional<BootDevice> parse_boot_device(std::string_view s) {
  for (auto d : {BootDevice::Pxe, BootDevice::Disk, BootDevice::Bios, BootDevice::Cdrom})
    if (boot_device_name(d) == s) return d;
  return std::nullopt;
}

std::string outcome_text(const Outcome& o) {
  if (o.ok()) return o.result.empty() ? std::string("ok") : o.result;
  switch (o.error) {
    case ErrorKind::Interrupted:
      return o.reason.empty() ? "interrupted" : "interrupted: " + o.reason;
    case ErrorKind::NotAttempted:
      return o.reason.empty() ? "not attempted" : "not attempted: " + o.reason;
    default:
      return "error: " + (o.reason.empty() ? std::string(error_kind_name(o.error)) : o.reason);
  }
}

Secret::~Secret() {
  // Best-effort wipe; volatile stops the compiler from eliding the stores.
  volatile char* p = value_.data();
  for (std::size_t i = 0; i < value_.size(); ++i) p[i] = 0;
}

}  // namespace fleetpower

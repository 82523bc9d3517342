// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "plugin/registry.hpp"

namespace fleetpower::redfish {

// Inventory keys read per target (Target::vars):
//   system           Id or path of the ComputerSystem when the BMC has several (blades)
//   auth             session | basic | auto (default: session, Basic when no SessionService)
//   ca_file          PEM bundle trusted in addition to the system store (overrides Options)
//   tls_fingerprint  SHA-256 of the BMC certificate (hex, with or without ':'): pins it
//   insecure         true: accept any certificate (Outcome fact tls=insecure...)
//   scheme           https (default) | http
// Outcome: status -> result power_state_name() ("on", "off", "powering on", ...) and state;
// actions -> "ok" (or "already on"/"already off" when nothing had to be sent), bootdev ->
// "pxe (once)" / "disk (persistent)", identify -> "identify on|off", probe -> "<vendor> (<model>)"
// with facts vendor, vendor_name, product, redfish_version, manager_model, firmware, system,
// power_state, reset_types, auth, tls_fingerprint.

/// Backend-wide settings (per-target inventory vars override ca_file / insecure / auth).
struct Options {
  std::string ca_file;         ///< extra CA bundle (PEM); empty: system store only
  bool insecure = false;       ///< skip certificate verification (warn!)
  int max_conns_per_bmc = 2;   ///< keep-alive connections per BMC (1..2)
  int max_conns_total = 1024;  ///< global cap on open connections
  std::size_t max_body_bytes = 4 * 1024 * 1024;  ///< response body limit
  std::size_t max_json_depth = 64;
  Millis connect_timeout{5000};
  Millis handshake_timeout{5000};
  Millis request_timeout{15000};
  /// A GET unanswered this long goes out again on a second connection; the first answer wins
  /// (see WireLimits::hedge).  0: never.
  Millis hedge_after{3000};
  /// After an accepted On/ForceOff, GET the system once more (fact state_after): the fleet
  /// layer verifies a node that switched at once without polling.
  bool read_after_reset = true;
  Millis cycle_off_poll{1000};  ///< poll interval while emulating cycle (wait for Off)
  int busy_retries = 3;         ///< 503 retries (honouring Retry-After) before Busy
  bool plain_http = false;      ///< talk plain HTTP (simulator --http); target var scheme=http too
  /// Keep an idle BMC's login session this long for the next operation (a read-back, the next
  /// blade); 0 logs out as soon as no operation is left.  shutdown() logs out at once.
  Millis session_linger{3000};
  /// Vendor plugins: the inventory's `vendor` names one, `auto` detects it from the service
  /// root (and the Manager when a rule needs it).  Null: the generic behaviour, no detection.
  std::shared_ptr<const plugin::Registry> plugins;
};

std::unique_ptr<Backend> make_backend(boost::asio::any_io_executor ex, Options opts = {});

}  // namespace fleetpower::redfish

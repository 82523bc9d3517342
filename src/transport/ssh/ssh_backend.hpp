// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "transport/ssh/session.hpp"

namespace fleetpower::ssh {

// Inventory keys read per target (Target::vars):
//   ssh_profile      the device profile (apc, raritan, servertech, smash-clp, racadm, or a site one)
//   host_key_policy  strict (default) | accept-new
//   known_hosts      known_hosts file (default ~/.ssh/known_hosts)
//   identity_file    private key for public key authentication (default: the credentials'
//                    identity_file; then the password)
//   outlet, system   ... and every other parameter the profile declares
// Outcome: status -> "on"/"off" with state; actions -> "ok".  Facts: ssh_profile,
// ssh_host_key (SHA256 fingerprint), ssh_host_key_added, reply.

struct Options {
  /// Site profile directories (*.yaml); a missing one is reported.
  std::vector<std::string> profile_dirs;
  /// Also load /etc/fleetpower/ssh-profiles.d when it exists.
  bool system_profile_dir = true;
  StepLimits limits;
};

/// Problems met while loading site profiles (the good ones are still used).
struct LoadReport {
  std::vector<std::string> errors;
};

std::unique_ptr<Backend> make_backend(boost::asio::any_io_executor ex, Options opts = {},
                                      LoadReport* report = nullptr);

/// The default site profile directory.
inline constexpr const char* kSystemProfileDir = "/etc/fleetpower/ssh-profiles.d";

}  // namespace fleetpower::ssh

// SPDX-License-Identifier: GPL-3.0-or-later
// One SSH conversation with a device, driven by libssh in non-blocking mode on the event
// loop: TCP connect (Asio), key exchange, host key check, authentication, then the profile's
// commands (exec channels, or typed into an interactive shell), each step bounded by a deadline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "core/types.hpp"
#include "transport/ssh/profile.hpp"

struct ssh_key_struct;

namespace fleetpower::ssh {

/// Host key policy (inventory key host_key_policy).
enum class HostKeyPolicy : std::uint8_t {
  Strict,     ///< the key must be in known_hosts
  AcceptNew,  ///< an unknown host's key is added to known_hosts; a changed key is still refused
};

/// Limits per step; each is further capped by the operation's deadline.
struct StepLimits {
  Millis connect{5000};
  Millis handshake{10000};
  Millis auth{10000};
  Millis channel{10000};
  Millis reply{20000};
};

struct SessionSpec {
  std::string label;  ///< for messages: "pdu-a1 (127.0.0.1:2222)"
  std::string host;
  std::uint16_t port = 22;
  std::string username;
  const Secret* password = nullptr;  ///< may be empty
  std::shared_ptr<ssh_key_struct> identity;  ///< loaded private key, or null
  std::string identity_file;                 ///< for messages
  std::string known_hosts;                   ///< user known_hosts file
  std::string global_known_hosts;            ///< "" : /etc/ssh/ssh_known_hosts
  HostKeyPolicy policy = HostKeyPolicy::Strict;
  const Profile* profile = nullptr;
  Action action = Action::Status;
  const ActionSpec* spec = nullptr;
  Bound bound;
  std::vector<std::string> commands;  ///< rendered, validated
  Clock::time_point deadline;
  StepLimits limits;
  std::size_t max_reply = 64 * 1024;
};

/// Runs one operation.  `done` is called exactly once, never from inside this call.
/// `released` is called once after it, when the session is closed (after a success the
/// session first leaves politely, for at most a second): the device is free again.
void run_session(boost::asio::any_io_executor ex, SessionSpec spec, boost::asio::cancellation_slot cancel,
                 std::function<void(Outcome)> done, std::function<void()> released = {});

/// Loads a private key file (no passphrase).  Blocking file read: call before the loop runs,
/// or once per file.  On failure *err says why.
std::shared_ptr<ssh_key_struct> load_identity(const std::string& path, std::string* err);

}  // namespace fleetpower::ssh

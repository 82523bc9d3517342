// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/backend.hpp"
#include "plugin/registry.hpp"

namespace fleetpower::ipmi {

/// Cipher suite selection (inventory var `cipher_suite`: auto|3|17).
enum class CipherChoice : std::uint8_t { Auto, Suite3, Suite17 };

/// Requested session privilege (inventory var `privilege`: user|operator|admin).
enum class Privilege : std::uint8_t { User = 2, Operator = 3, Admin = 4 };

struct Options {
  /// First retransmission after this long (plus up to `retransmit_jitter`).
  std::chrono::milliseconds retransmit_base{400};
  std::chrono::milliseconds retransmit_jitter{100};
  /// The first this many retransmissions of a packet keep the base interval (the wait after
  /// retransmission k is base * backoff^max(0, k - flat)): on a lossy path the next copy is
  /// the best bet, and a quick back-off spends the time budget waiting. Ten keeps the base
  /// interval for about the first 5 s; why ten and not six: the README's "Retransmission" and
  /// bench/retransmit_model.py.
  int retransmit_flat = 10;
  /// After those, each further retransmission waits this factor longer (slow back-off) ...
  double retransmit_backoff = 1.5;
  /// ... up to this cap.
  std::chrono::milliseconds retransmit_max{2000};
  /// After an error or cancellation, wait at most this long for the Close Session reply.
  std::chrono::milliseconds close_grace{250};
  /// After an accepted on/off, read the power state in the same session (fact state_after):
  /// the fleet layer then verifies a node that switched at once without polling.
  bool read_after_control = true;
  /// A session whose RAKP 4 never came is probed (Set Session Privilege Level); only when the
  /// probe has gone unanswered this long (and three round trips) is the handshake restarted.
  std::chrono::milliseconds probe_patience{2000};
  /// While the BMC answers "busy" (0xC0), retry after this long (within the deadline).
  std::chrono::milliseconds busy_retry{300};
  /// Number of shared UDP sockets; sessions are spread over them and demultiplexed by
  /// peer address and our session id.
  unsigned sockets = 4;
  /// SO_RCVBUF/SO_SNDBUF asked for each socket (the kernel may cap it).
  int socket_buffer = 1 << 20;
  /// Datagrams sent in one turn of the event loop leave together (sendmmsg), flushed once
  /// this many are queued; 0 or 1: each at once.
  unsigned send_batch = 16;
  /// Send Set Session Privilege Level after RAKP 4 (as ipmitool and ipmipower do).
  bool set_session_privilege = true;
  CipherChoice default_cipher = CipherChoice::Auto;
  Privilege default_privilege = Privilege::Operator;
  /// Vendor plugins (inventory `vendor`): profile defaults (cipher suite, privilege) and
  /// workarounds (applied: authcap, opensesspriv, nosetsesspriv).  Null: generic behaviour.
  std::shared_ptr<const plugin::Registry> plugins;
};

/// The asynchronous RMCP+ (IPMI 2.0 lanplus) backend.  All work runs on `ex` (one thread).
std::unique_ptr<Backend> make_backend(boost::asio::any_io_executor ex, Options opts = {});

}  // namespace fleetpower::ipmi

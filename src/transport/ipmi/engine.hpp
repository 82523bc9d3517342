// SPDX-License-Identifier: GPL-3.0-or-later
// The RMCP+ session engine: a small set of shared UDP sockets, demultiplexed by peer address
// and our session id, and one explicit state machine per operation (Session).
#pragma once

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.hpp"
#include "transport/ipmi/ipmi_backend.hpp"
#include "transport/ipmi/names.hpp"
#include "transport/ipmi/packets.hpp"

namespace fleetpower::ipmi {

using udp = asio::ip::udp;

/// What a session sent last and is waiting for a reply to.  A time-out names it.
enum class Sent : std::uint8_t {
  Nothing,
  Resolve,
  GetChannelAuthCaps,
  OpenSession,
  Rakp1,
  Rakp3,
  SetSessionPrivilege,
  GetChassisStatus,
  ChassisControl,
  ChassisIdentify,
  SetBootFlags,
  GetBootFlags,
  GetDeviceId,
  GetCipherSuites,
  GetPowerReading,  ///< DCMI Get Power Reading (NetFn 0x2C, group extension 0xDC)
  CloseSession,
};
/// "RAKP 2", "the Get Chassis Status reply", ...: what we wait for after sending `s`.
std::string_view awaited_name(Sent s);

/// Counters for benchmarks and tests.
struct EngineStats {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t retransmits = 0;
  std::uint64_t stray = 0;  ///< datagrams no session claimed
  std::uint64_t sessions_started = 0;
  std::uint64_t sessions_closed = 0;  ///< Close Session replies seen
  std::uint64_t rtt_samples = 0;      ///< round trips fed to the retransmission estimators
  std::uint64_t spurious = 0;  ///< retransmitted requests shown unneeded by a duplicate reply
};

/// Smoothed round trip and its variation (the estimator of RFC 6298, in milliseconds): the
/// retransmission wait follows what the BMCs show instead of a constant.  Fed only with round
/// trips that are unambiguous (Karn): a request sent once, or one whose copies were all
/// answered (a duplicate reply proves the first copy was not lost).
class RttEstimator {
 public:
  void add(double ms) {
    if (n_ == 0) {
      srtt_ = ms;
      rttvar_ = ms / 2;
    } else {
      rttvar_ = 0.75 * rttvar_ + 0.25 * std::abs(srtt_ - ms);
      srtt_ = 0.875 * srtt_ + 0.125 * ms;
    }
    ++n_;
  }
  /// Until `min_samples` round trips were seen: nothing (the configured wait stands).
  std::optional<std::chrono::milliseconds> timeout(unsigned min_samples = 4) const {
    if (n_ < min_samples) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long>(srtt_ + 4 * rttvar_ + 0.5));
  }
  double srtt() const { return srtt_; }
  unsigned samples() const { return n_; }

 private:
  double srtt_ = 0, rttvar_ = 0;
  unsigned n_ = 0;
};

class Session;

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  Engine(asio::any_io_executor ex, Options opts);
  ~Engine();
  void start(OpContext ctx, CompletionFn done);
  void shutdown();

  // --- for sessions ---
  asio::any_io_executor executor() const { return ex_; }
  const Options& options() const { return opts_; }
  /// Non-blocking send on the session's socket; false if the kernel refused it (treated as a
  /// lost packet: the retransmission timer covers it).
  bool send(unsigned sock, const udp::endpoint& to, ByteView pkt);
  std::uint32_t new_session_id();
  std::chrono::milliseconds jitter();
  void attach_peer(Session* s);
  void detach(Session* s);
  void rekey(Session* s, std::uint32_t old_sid, std::uint32_t new_sid);
  std::optional<int> cached_cipher(const std::string& bmc_key) const;
  void cache_cipher(const std::string& bmc_key, int suite) { cipher_cache_[bmc_key] = suite; }
  EngineStats& stats() { return stats_; }
  unsigned pick_socket();
  /// The first retransmission wait for a request of this kind: the configured
  /// retransmit_base, or longer when the BMCs' replies have been slower (the handshake and the
  /// commands a BMC runs are estimated apart: a slow chassis command must not stretch the wait
  /// for a lost RAKP message).
  std::chrono::milliseconds retransmit_wait(Sent s) const;
  /// An unambiguous round trip of a request of this kind.
  void rtt_sample(Sent s, std::chrono::milliseconds rtt);

 private:
  bool open_sockets(std::string& err);
  void arm(unsigned i);
  void on_readable(unsigned i);
  void dispatch(const udp::endpoint& from, ByteView pkt);

  asio::any_io_executor ex_;
  Options opts_;
  std::vector<std::unique_ptr<udp::socket>> socks_;
  unsigned next_sock_ = 0;
  std::unordered_map<std::uint32_t, std::shared_ptr<Session>> by_sid_;
  std::multimap<udp::endpoint, Session*> by_peer_;
  std::unordered_map<std::string, int> cipher_cache_;
  RttEstimator rtt_[2];  ///< [0] session setup, [1] in-session commands
  std::mt19937_64 rng_;
  EngineStats stats_;
  std::array<std::uint8_t, 2048> rxbuf_{};
};

}  // namespace fleetpower::ipmi

// SPDX-License-Identifier: GPL-3.0-or-later
// The RMCP+ session engine: a small set of shared UDP sockets, demultiplexed by peer address
// and our session id, and one explicit state machine per operation (Session).
#pragma once

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

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
  /// Non-blocking send on the session's socket.  The datagram is copied to a queue and leaves
  /// with the others of this turn of the loop (Options::send_batch); one the kernel refuses is
  /// a lost packet, which the retransmission timer covers.
  void send(unsigned sock, const udp::endpoint& to, ByteView pkt);
  std::uint32_t new_session_id();
  std::chrono::milliseconds jitter();
  void attach_peer(Session* s);
  void detach(Session* s);
  void rekey(Session* s, std::uint32_t old_sid, std::uint32_t new_sid);
  std::optional<int> cached_cipher(const std::string& bmc_key) const;
  void cache_cipher(const std::string& bmc_key, int suite) { cipher_cache_[bmc_key] = suite; }
  EngineStats& stats() { return stats_; }
  unsigned pick_socket();

 private:
  bool open_sockets(std::string& err);
  void arm(unsigned i);
  void on_readable(unsigned i);
  void dispatch(const udp::endpoint& from, ByteView pkt);
  void flush_sends();

  /// Datagrams queued by send(), sent together with sendmmsg(2) by flush_sends().
  struct Queued {
    unsigned sock;
    udp::endpoint to;
    std::size_t off, len;
  };
  std::vector<Queued> outq_;
  std::vector<std::uint8_t> outbuf_;
  bool flush_posted_ = false;
  bool stopping_ = false;

  asio::any_io_executor ex_;
  Options opts_;
  std::vector<std::unique_ptr<udp::socket>> socks_;
  unsigned next_sock_ = 0;
  std::unordered_map<std::uint32_t, std::shared_ptr<Session>> by_sid_;
  std::multimap<udp::endpoint, Session*> by_peer_;
  std::unordered_map<std::string, int> cipher_cache_;
  std::mt19937_64 rng_;
  EngineStats stats_;
  std::vector<std::uint8_t> rxbufs_;
};

}  // namespace fleetpower::ipmi

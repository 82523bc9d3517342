// SPDX-License-Identifier: GPL-3.0-or-later
// The real HTTP/1.1 client: per-BMC endpoints with at most N keep-alive connections each, a
// global connection budget, TLS verification (CA store, CA file, pinned fingerprint, insecure)
// and a deadline on every wire step.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "transport/redfish/http.hpp"

namespace fleetpower::redfish {

struct TlsSettings {
  bool plain = false;     ///< plain HTTP (no TLS at all)
  bool insecure = false;  ///< accept any certificate
  std::string pin;        ///< normalized SHA-256 (64 lower-case hex), empty: no pin
};

struct WireLimits {
  std::size_t max_body = 4 * 1024 * 1024;
  std::size_t max_header = 32 * 1024;
  Millis connect{5000}, handshake{5000}, request{15000};
  int max_per_host = 2;
  /// A GET with no answer after this long is sent again on a second connection (a fresh one,
  /// or the BMC's other idle one), the first answer wins: on a lossy path one TCP connection
  /// can sit in retransmission back-off (1, 2, 4, 8 s ...) while a new one gets through.  While
  /// it stays unanswered it is looked at again every such interval (the other connection may
  /// have been busy, or the copy on it failed): a GET may run up to 1 + 3 times, never on more
  /// than two connections at once; nothing else is hedged.  0: never.
  Millis hedge{0};
};

class Connection;
class Endpoint;

/// Global cap on open connections, shared by every endpoint of a backend.
class ConnBudget : public std::enable_shared_from_this<ConnBudget> {
 public:
  ConnBudget(boost::asio::any_io_executor ex, int max)
      : ex_(std::move(ex)), max_(max < 1 ? 1 : max) {}
  /// Takes a slot, evicting an idle connection of another endpoint if the cap is reached.
  bool try_acquire();
  void release();
  void wait(std::weak_ptr<Endpoint> ep) { waiting_.push_back(std::move(ep)); }
  bool has_waiters() const { return !waiting_.empty(); }
  int in_use() const { return used_; }

  // Idle connections, least recently used first (for eviction).
  std::list<std::weak_ptr<Connection>>::iterator add_idle(std::weak_ptr<Connection> c) {
    return idle_.insert(idle_.end(), std::move(c));
  }
  void remove_idle(std::list<std::weak_ptr<Connection>>::iterator it) { idle_.erase(it); }

 private:
  void pump();
  boost::asio::any_io_executor ex_;
  bool pump_posted_ = false;
  int max_;
  int used_ = 0;
  std::deque<std::weak_ptr<Endpoint>> waiting_;
  std::list<std::weak_ptr<Connection>> idle_;
};

struct Exchange;

class Endpoint final : public HttpEndpoint, public std::enable_shared_from_this<Endpoint> {
 public:
  Endpoint(boost::asio::any_io_executor ex, std::string host, std::uint16_t port, TlsSettings tls,
           std::shared_ptr<boost::asio::ssl::context> ctx, std::shared_ptr<ConnBudget> budget,
           WireLimits limits);
  ~Endpoint() override;

  void request(HttpRequest req, Clock::time_point deadline, boost::asio::cancellation_slot slot,
               HttpHandler h) override;
  std::string peer_fingerprint() const override { return fingerprint_; }
  void close() override { close_all(); }
  bool crowded() const override { return budget_->has_waiters(); }

  /// Closes every connection (idle or busy); queued and running exchanges fail as cancelled.
  void close_all();
  std::size_t open_connections() const { return conns_.size(); }

  // Called by connections and the budget.
  void on_idle(const std::shared_ptr<Connection>& c);
  void on_closed(Connection* c);
  void requeue_front(std::shared_ptr<Exchange> x);
  void dispatch();
  void set_fingerprint(std::string fp) { fingerprint_ = std::move(fp); }

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  const TlsSettings& tls() const { return tls_; }
  const WireLimits& limits() const { return limits_; }
  boost::asio::any_io_executor executor() const { return ex_; }
  const std::shared_ptr<boost::asio::ssl::context>& ssl_context() const { return ctx_; }
  ConnBudget& budget() { return *budget_; }
  void cancel_exchange(const std::shared_ptr<Exchange>& x);
  /// The hedge timer of a GET fired: send it on a second connection if one is free, and
  /// look again one interval later while it is unanswered (at most kMaxHedges copies).
  void hedge(const std::shared_ptr<Exchange>& x);
  void arm_hedge(const std::shared_ptr<Exchange>& x);
  static constexpr int kMaxHedges = 3;

 private:
  boost::asio::any_io_executor ex_;
  std::string host_;
  std::uint16_t port_;
  TlsSettings tls_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::shared_ptr<ConnBudget> budget_;
  WireLimits limits_;
  std::vector<std::shared_ptr<Connection>> conns_;
  std::deque<std::shared_ptr<Exchange>> queue_;
  std::string fingerprint_;
  bool waiting_budget_ = false;
  friend class ConnBudget;
};

/// TLS client context: system CA store plus an optional CA file.  Returns null with *err set
/// when the file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                            std::string* err);

}  // namespace fleetpower::redfish

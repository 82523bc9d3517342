// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/redfish/pool.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "transport/redfish/model.hpp"

namespace fleetpower::redfish {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string_view method_name(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Post:
      return "POST";
    case Method::Patch:
      return "PATCH";
    case Method::Delete:
      return "DELETE";
  }
  return "GET";
}

std::string_view wire_step_text(WireStep s) {
  switch (s) {
    case WireStep::Queue:
      return "a free connection";
    case WireStep::Resolve:
      return "DNS resolution";
    case WireStep::Connect:
      return "the TCP connect";
    case WireStep::Handshake:
      return "the TLS handshake";
    case WireStep::Send:
      return "sending the request";
    case WireStep::Receive:
      return "the HTTP response";
  }
  return "?";
}

/// One request in flight through an endpoint.  Completes exactly once (finish()).
struct Exchange {
  HttpRequest req;
  Clock::time_point deadline;
  HttpHandler handler;
  asio::cancellation_slot slot;
  asio::any_io_executor ex;
  WireStep step = WireStep::Queue;
  bool finished = false;
  bool retried = false;  ///< already re-sent once after a stale keep-alive connection
  std::weak_ptr<Connection> conn;
  /// Hedged GETs: the second connection carrying it, and how many connections still do (a
  /// carrier that fails leaves the exchange to the other; the first answer completes it).
  std::weak_ptr<Connection> conn2;
  int carriers = 0;
  int hedges = 0;  ///< times sent again on another connection (at most kMaxHedges)
  std::optional<asio::steady_timer> hedge_timer;

  void finish(HttpResult r) {
    if (finished) return;
    finished = true;
    if (hedge_timer) hedge_timer->cancel();
    if (slot.is_connected()) slot.clear();
    r.step = step;
    asio::post(ex, [h = std::move(handler), r = std::move(r)]() mutable { h(std::move(r)); });
  }
  void fail(ErrorKind k, std::string reason) {
    HttpResult r;
    r.error = k;
    r.reason = std::move(reason);
    finish(std::move(r));
  }
};

namespace {

Clock::time_point step_deadline(Millis step, Clock::time_point overall) {
  return std::min(Clock::now() + step, overall);
}

std::string verify_reason(int err, const std::string& host) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the certificate is not yet valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate in the chain (CA not trusted)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "certificate issuer unknown (CA not trusted)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return "name mismatch: certificate is not valid for " + host;
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "IP address mismatch: certificate is not valid for " + host;
    default:
      return X509_verify_cert_error_string(err);
  }
}

std::string cert_fingerprint(X509* cert) {
  if (!cert) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  return format_fingerprint(md, n);
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State : std::uint8_t { Fresh, Opening, Idle, Busy, Dead };

  Connection(std::shared_ptr<Endpoint> ep)
      : ep_(ep),
        host_(ep->host()),
        port_(ep->port()),
        tls_(ep->tls()),
        limits_(ep->limits()),
        ex_(ep->executor()),
        resolver_(ex_),
        resolve_timer_(ex_) {
    if (tls_.plain)
      plain_.emplace(ex_);
    else
      tls_stream_.emplace(ex_, *ep->ssl_context());
  }

  State state() const { return state_; }

  /// An idle keep-alive connection the BMC has closed (EOF, or a TLS close_notify waiting to
  /// be read): not to be used, least of all for a request that must not be sent twice.
  bool stale() {
    auto& s = lowest().socket();
    if (!s.is_open()) return true;
    char c;
    ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  void run(std::shared_ptr<Exchange> x) {
    cur_ = std::move(x);
    if (cur_->hedges > 0 && cur_->conn.lock())
      cur_->conn2 = weak_from_this();
    else
      cur_->conn = weak_from_this();
    ++cur_->carriers;
    if (state_ == State::Idle) {
      take_from_idle();
      state_ = State::Busy;
      reused_ = true;
      send();
    } else {
      state_ = State::Opening;
      reused_ = false;
      resolve();
    }
  }

  /// Aborts whatever is in flight; the current exchange (if any) completes as cancelled.
  void abort(bool cancelled = true) {
    if (cur_ && cancelled) {
      HttpResult r;
      r.error = ErrorKind::Interrupted;
      r.reason = "cancelled";
      r.cancelled = true;
      cur_->finish(std::move(r));
    }
    close();
  }

  void close() {
    if (state_ == State::Dead) return;
    take_from_idle();
    state_ = State::Dead;
    error_code ec;
    resolver_.cancel();
    resolve_timer_.cancel();
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    auto self = shared_from_this();
    if (auto ep = ep_.lock()) ep->on_closed(this);
  }

  /// This connection carries an exchange another connection has completed (the slower copy of
  /// a hedged GET): close it, the reply is not wanted.
  void drop_finished(const std::shared_ptr<Exchange>& x) {
    if (cur_ != x) return;
    cur_.reset();
    close();
  }

  void set_idle_iterator(std::list<std::weak_ptr<Connection>>::iterator it) {
    idle_it_ = it;
    in_idle_ = true;
  }
  /// The budget has already erased this connection's idle-list entry (eviction).
  void forget_idle_entry() { in_idle_ = false; }

 private:
  beast::tcp_stream& lowest() { return plain_ ? *plain_ : beast::get_lowest_layer(*tls_stream_); }

  void take_from_idle() {
    if (!in_idle_) return;
    in_idle_ = false;
    if (auto ep = ep_.lock()) ep->budget().remove_idle(idle_it_);
  }

  bool check_cancelled() { return !cur_ || cur_->finished || state_ == State::Dead; }

  void fail(ErrorKind k, std::string reason) {
    auto x = cur_;
    cur_.reset();
    // A hedged GET another connection still carries: that one answers (or fails) for it.
    if (x && x->carriers > 1)
      --x->carriers;
    else if (x)
      x->fail(k, std::move(reason));
    close();
  }

  void fail_ec(const error_code& ec) {
    auto step = cur_ ? cur_->step : WireStep::Queue;
    if (ec == beast::error::timeout || ec == asio::error::timed_out) {
      ErrorKind k = (step == WireStep::Connect || step == WireStep::Resolve) ? ErrorKind::NoResponse
                                                                             : ErrorKind::Timeout;
      return fail(k, "timed out waiting for " + std::string(wire_step_text(step)));
    }
    if (ec == asio::error::connection_refused)
      return fail(ErrorKind::Connection, "connection refused");
    if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable)
      return fail(ErrorKind::Connection, "host unreachable");
    if (ec == http::error::body_limit)
      return fail(ErrorKind::Protocol,
                  "response larger than " + std::to_string(limits_.max_body) + " bytes");
    if (ec == http::error::header_limit)
      return fail(ErrorKind::Protocol, "response headers too large");
    if (ec.category() == http::make_error_code(http::error::bad_version).category())
      return fail(ErrorKind::Protocol, "malformed HTTP response: " + ec.message());
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::broken_pipe) {
      return fail(ErrorKind::Connection,
                  "connection closed by the BMC during " + std::string(wire_step_text(step)));
    }
    return fail(ErrorKind::Connection,
                std::string(wire_step_text(step)) + " failed: " + ec.message());
  }

  // -- resolve ---------------------------------------------------------------------------------
  void resolve() {
    cur_->step = WireStep::Resolve;
    error_code ec;
    auto addr = asio::ip::make_address(host_, ec);
    if (!ec) {
      endpoints_.clear();
      endpoints_.emplace_back(addr, port_);
      return connect();
    }
    // Non-blocking DNS: asio runs getaddrinfo on its internal thread; bounded by a timer.
    resolve_timer_.expires_at(step_deadline(limits_.connect, cur_->deadline));
    auto self = shared_from_this();
    resolve_timer_.async_wait([self](error_code tec) {
      if (!tec && self->state_ == State::Opening && self->cur_ &&
          self->cur_->step == WireStep::Resolve) {
        self->resolver_.cancel();
        self->resolve_timed_out_ = true;
      }
    });
    resolver_.async_resolve(
        host_, std::to_string(port_), [self](error_code rec, tcp::resolver::results_type res) {
          self->resolve_timer_.cancel();
          if (self->check_cancelled()) return self->close();
          if (self->resolve_timed_out_)
            return self->fail(ErrorKind::NoResponse,
                              "timed out waiting for DNS resolution of " + self->host_);
          if (rec)
            return self->fail(ErrorKind::Connection,
                              "cannot resolve " + self->host_ + ": " + rec.message());
          self->endpoints_.assign(res.begin(), res.end());
          self->connect();
        });
  }

  // -- connect ---------------------------------------------------------------------------------
  void connect() {
    cur_->step = WireStep::Connect;
    lowest().expires_at(step_deadline(limits_.connect, cur_->deadline));
    auto self = shared_from_this();
    lowest().async_connect(endpoints_, [self](error_code ec, const tcp::endpoint&) {
      if (self->check_cancelled()) return self->close();
      if (ec) return self->fail_ec(ec);
      error_code ig;
      self->lowest().socket().set_option(tcp::no_delay(true), ig);
      if (self->plain_) {
        self->state_ = State::Busy;
        return self->send();
      }
      self->handshake();
    });
  }

  // -- TLS -------------------------------------------------------------------------------------
  void handshake() {
    cur_->step = WireStep::Handshake;
    SSL* s = tls_stream_->native_handle();
    const bool ip = is_ip_literal(host_);
    if (!ip) SSL_set_tlsext_host_name(s, host_.c_str());
    if (!tls_.insecure && tls_.pin.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(s);
      if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
      else
        X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0);
    }
    error_code vec;
    tls_stream_->set_verify_mode(ssl::verify_peer, vec);
    const bool accept_any = tls_.insecure || !tls_.pin.empty();
    tls_stream_->set_verify_callback(
        [this, accept_any](bool preverified, ssl::verify_context& vc) {
          X509_STORE_CTX* sc = vc.native_handle();
          if (presented_fp_.empty()) presented_fp_ = cert_fingerprint(X509_STORE_CTX_get0_cert(sc));
          if (accept_any) return true;
          if (!preverified && verify_error_ == X509_V_OK)
            verify_error_ = X509_STORE_CTX_get_error(sc);
          return preverified;
        },
        vec);
    if (vec) return fail(ErrorKind::Internal, "TLS setup failed: " + vec.message());
    lowest().expires_at(step_deadline(limits_.handshake, cur_->deadline));
    auto self = shared_from_this();
    tls_stream_->async_handshake(ssl::stream_base::client, [self](error_code ec) {
      if (self->check_cancelled()) return self->close();
      auto ep = self->ep_.lock();
      if (ep && !self->presented_fp_.empty()) ep->set_fingerprint(self->presented_fp_);
      if (self->verify_error_ != X509_V_OK) {
        std::string r =
            "TLS verification failed: " + verify_reason(self->verify_error_, self->host_);
        if (!self->presented_fp_.empty())
          r += " (presented certificate SHA-256 " + self->presented_fp_ + ")";
        return self->fail(ErrorKind::Tls, std::move(r));
      }
      if (ec == beast::error::timeout) return self->fail_ec(ec);
      if (ec) {
        if (ec == asio::error::eof || ec == asio::error::connection_reset)
          return self->fail(ErrorKind::Connection, "connection closed during the TLS handshake");
        return self->fail(ErrorKind::Tls, "TLS handshake failed: " + ec.message());
      }
      if (!self->tls_.pin.empty()) {
        std::string fp = self->presented_fp_;
        if (X509* c = SSL_get1_peer_certificate(self->tls_stream_->native_handle())) {
          fp = cert_fingerprint(c);
          X509_free(c);
        }
        auto norm = normalize_fingerprint(fp);
        if (!norm || *norm != self->tls_.pin)
          return self->fail(ErrorKind::Tls,
                            "TLS verification failed: certificate fingerprint differs from "
                            "tls_fingerprint (presented certificate SHA-256 " +
                                fp + ")");
      }
      self->state_ = State::Busy;
      self->send();
    });
  }

  // -- request / response ----------------------------------------------------------------------
  void send() {
    cur_->step = WireStep::Send;
    const auto& r = cur_->req;
    req_ = {};
    req_.version(11);
    switch (r.method) {
      case Method::Get:
        req_.method(http::verb::get);
        break;
      case Method::Post:
        req_.method(http::verb::post);
        break;
      case Method::Patch:
        req_.method(http::verb::patch);
        break;
      case Method::Delete:
        req_.method(http::verb::delete_);
        break;
    }
    req_.target(r.target);
    const bool default_port = (tls_.plain && port_ == 80) || (!tls_.plain && port_ == 443);
    std::string hosthdr = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
    if (!default_port) hosthdr += ":" + std::to_string(port_);
    req_.set(http::field::host, hosthdr);
    req_.set(http::field::user_agent, "fleetpower/" FLEETPOWER_VERSION);
    req_.set(http::field::accept, "application/json");
    req_.set(http::field::accept_encoding, "identity");
    req_.set("OData-Version", "4.0");
    req_.keep_alive(true);
    for (auto& [k, v] : r.headers) req_.set(k, v);
    if (!r.body.empty() || r.method == Method::Post || r.method == Method::Patch) {
      req_.set(http::field::content_type, "application/json");
      req_.body() = r.body;
    }
    req_.prepare_payload();
    lowest().expires_at(step_deadline(limits_.request, cur_->deadline));
    auto self = shared_from_this();
    auto on_write = [self](error_code ec, std::size_t) {
      if (self->check_cancelled()) return self->close();
      if (ec) {
        if (self->reused_ && !self->cur_->retried) return self->retry_fresh();
        return self->fail_ec(ec);
      }
      self->receive();
    };
    if (plain_)
      http::async_write(*plain_, req_, std::move(on_write));
    else
      http::async_write(*tls_stream_, req_, std::move(on_write));
  }

  void receive() {
    cur_->step = WireStep::Receive;
    parser_.emplace();
    parser_->body_limit(limits_.max_body);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header));
    auto self = shared_from_this();
    auto on_read = [self](error_code ec, std::size_t) {
      if (self->check_cancelled()) return self->close();
      if (ec) {
        const bool nothing = !self->parser_->got_some();
        // Sent, then the connection died without a byte of answer: a stale keep-alive
        // connection, or a BMC that carried the request out and dropped the connection.
        // Only a request that may run twice (GET, DELETE) is sent again; a Reset POST or a
        // PATCH is not (the caller reads the state instead).
        const auto m = self->cur_->req.method;
        const bool repeatable =
            m == Method::Get || m == Method::Delete || self->cur_->req.repeatable;
        if (nothing && repeatable && self->reused_ && !self->cur_->retried &&
            (ec == http::error::end_of_stream || ec == asio::error::eof ||
             ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated))
          return self->retry_fresh();
        return self->fail_ec(ec);
      }
      self->complete();
    };
    if (plain_)
      http::async_read(*plain_, buf_, *parser_, std::move(on_read));
    else
      http::async_read(*tls_stream_, buf_, *parser_, std::move(on_read));
  }

  void complete() {
    auto& msg = parser_->get();
    HttpResult res;
    res.response.status = msg.result_int();
    res.response.body = std::move(msg.body());
    auto hdr = [&msg](std::string_view name) {
      auto it = msg.find(name);
      return it == msg.end() ? std::string() : std::string(it->value());
    };
    res.response.etag = hdr("ETag");
    res.response.location = hdr("Location");
    res.response.retry_after = hdr("Retry-After");
    res.response.auth_token = hdr("X-Auth-Token");
    res.response.content_type = hdr("Content-Type");
    const bool keep = msg.keep_alive();
    parser_.reset();
    auto x = std::move(cur_);
    cur_.reset();
    lowest().expires_never();
    x->finish(std::move(res));
    // The losing carrier of a hedged GET is still waiting: drop it.
    for (auto* w : {&x->conn, &x->conn2})
      if (auto other = w->lock(); other && other.get() != this) other->drop_finished(x);
    if (!keep) return close();
    state_ = State::Idle;
    if (auto ep = ep_.lock())
      ep->on_idle(shared_from_this());
    else
      close();
  }

  /// The keep-alive connection had gone stale: send the exchange again on a fresh connection.
  void retry_fresh() {
    auto x = std::move(cur_);
    cur_.reset();
    --x->carriers;
    x->retried = true;
    x->step = WireStep::Queue;
    auto ep = ep_.lock();
    close();
    if (ep)
      ep->requeue_front(std::move(x));
    else
      x->fail(ErrorKind::Connection, "connection closed");
  }

  std::weak_ptr<Endpoint> ep_;
  std::string host_;
  std::uint16_t port_;
  TlsSettings tls_;
  WireLimits limits_;
  asio::any_io_executor ex_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  bool resolve_timed_out_ = false;
  std::vector<tcp::endpoint> endpoints_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  beast::flat_buffer buf_{64 * 1024};
  std::optional<http::response_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  std::shared_ptr<Exchange> cur_;
  State state_ = State::Fresh;
  bool reused_ = false;
  int verify_error_ = X509_V_OK;
  std::string presented_fp_;
  bool in_idle_ = false;
  std::list<std::weak_ptr<Connection>>::iterator idle_it_;
};

// ---------------------------------------------------------------------------------------------

bool ConnBudget::try_acquire() {
  if (used_ < max_) {
    ++used_;
    return true;
  }
  // Evict the least recently used idle connection of any endpoint.  The entry is erased here,
  // so the connection must forget its iterator before close() (which would erase it again).
  while (!idle_.empty()) {
    auto c = idle_.front().lock();
    idle_.pop_front();
    if (!c) continue;
    c->forget_idle_entry();
    c->close();  // releases its slot through Endpoint::on_closed
    if (used_ < max_) {
      ++used_;
      return true;
    }
  }
  return false;
}

void ConnBudget::release() {
  if (used_ > 0) --used_;
  if (waiting_.empty() || pump_posted_) return;
  pump_posted_ = true;
  asio::post(ex_, [self = shared_from_this()] { self->pump(); });
}

void ConnBudget::pump() {
  pump_posted_ = false;
  // Each woken endpoint either takes a slot or waits again at the back of the line.
  while (used_ < max_ && !waiting_.empty()) {
    auto ep = waiting_.front().lock();
    waiting_.pop_front();
    if (!ep) continue;
    ep->waiting_budget_ = false;
    ep->dispatch();
  }
}

Endpoint::Endpoint(asio::any_io_executor ex, std::string host, std::uint16_t port, TlsSettings tls,
                   std::shared_ptr<ssl::context> ctx, std::shared_ptr<ConnBudget> budget,
                   WireLimits limits)
    : ex_(std::move(ex)),
      host_(std::move(host)),
      port_(port),
      tls_(std::move(tls)),
      ctx_(std::move(ctx)),
      budget_(std::move(budget)),
      limits_(limits) {
  if (limits_.max_per_host < 1) limits_.max_per_host = 1;
}

Endpoint::~Endpoint() {
  for (auto& x : queue_) x->fail(ErrorKind::Interrupted, "shut down");
  queue_.clear();
}

void Endpoint::request(HttpRequest req, Clock::time_point deadline, asio::cancellation_slot slot,
                       HttpHandler h) {
  auto x = std::make_shared<Exchange>();
  x->req = std::move(req);
  x->deadline = deadline;
  x->handler = std::move(h);
  x->ex = ex_;
  x->slot = slot;
  if (slot.is_connected()) {
    std::weak_ptr<Exchange> wx = x;
    std::weak_ptr<Endpoint> wep = weak_from_this();
    slot.assign([wx, wep](asio::cancellation_type) {
      auto xx = wx.lock();
      auto ep = wep.lock();
      if (xx && ep) ep->cancel_exchange(xx);
    });
  }
  if (limits_.hedge.count() > 0 && x->req.method == Method::Get) {
    x->hedge_timer.emplace(ex_);
    arm_hedge(x);
  }
  queue_.push_back(std::move(x));
  dispatch();
}

void Endpoint::arm_hedge(const std::shared_ptr<Exchange>& x) {
  x->hedge_timer->expires_after(limits_.hedge);
  std::weak_ptr<Exchange> wx = x;
  std::weak_ptr<Endpoint> wep = weak_from_this();
  x->hedge_timer->async_wait([wx, wep](error_code ec) {
    if (ec) return;
    auto xx = wx.lock();
    auto ep = wep.lock();
    if (xx && ep) ep->hedge(xx);
  });
}

void Endpoint::hedge(const std::shared_ptr<Exchange>& x) {
  if (x->finished) return;
  const auto left = x->deadline - Clock::now();
  if (left < limits_.hedge / 2) return;  // too late to help
  // Carried by exactly one connection (not queued, not already on two), and not hedged too
  // often; only onto a connection that is free now, never ahead of other queued requests.
  if (x->carriers == 1 && x->hedges < kMaxHedges) {
    bool room = static_cast<int>(conns_.size()) < limits_.max_per_host;
    for (auto& c : conns_)
      if (c->state() == Connection::State::Idle) room = true;
    if (room) {
      ++x->hedges;
      queue_.push_front(x);
      dispatch();
    }
  }
  // Still unanswered one interval from now: look again.  The BMC's other connection may have
  // been busy this time, or the copy sent on it may fail (its carrier gone, the exchange back
  // to one), and a GET stuck behind TCP back-off stays stuck for seconds.
  if (!x->finished && x->hedges < kMaxHedges && left >= limits_.hedge + limits_.hedge / 2) arm_hedge(x);
}

void Endpoint::cancel_exchange(const std::shared_ptr<Exchange>& x) {
  if (x->finished) return;
  auto it = std::find(queue_.begin(), queue_.end(), x);
  if (it != queue_.end()) queue_.erase(it);
  auto c = x->conn.lock();
  auto c2 = x->conn2.lock();
  HttpResult r;
  r.error = ErrorKind::Interrupted;
  r.reason = "cancelled";
  r.cancelled = true;
  x->finish(std::move(r));
  if (c) c->abort(false);
  if (c2) c2->abort(false);
}

void Endpoint::requeue_front(std::shared_ptr<Exchange> x) {
  if (x->finished) return;
  queue_.push_front(std::move(x));
  asio::post(ex_, [self = shared_from_this()] { self->dispatch(); });
}

void Endpoint::dispatch() {
  while (!queue_.empty()) {
    if (queue_.front()->finished) {
      queue_.pop_front();
      continue;
    }
    std::shared_ptr<Connection> use;
    for (auto& c : conns_)
      if (c->state() == Connection::State::Idle) {
        use = c;
        break;
      }
    if (use && use->stale()) {
      use->close();  // on_closed() drops it from conns_ and frees its budget slot
      continue;
    }
    if (!use) {
      if (static_cast<int>(conns_.size()) >= limits_.max_per_host) return;
      if (!budget_->try_acquire()) {
        if (!waiting_budget_) {
          waiting_budget_ = true;
          budget_->wait(weak_from_this());
        }
        return;
      }
      use = std::make_shared<Connection>(shared_from_this());
      conns_.push_back(use);
    }
    auto x = std::move(queue_.front());
    queue_.pop_front();
    use->run(std::move(x));
  }
}

void Endpoint::on_idle(const std::shared_ptr<Connection>& c) {
  if (!queue_.empty()) {
    asio::post(ex_, [self = shared_from_this()] { self->dispatch(); });
  } else if (budget_->has_waiters()) {
    // At the global cap other BMCs are waiting: hand the slot on rather than idle on it.
    return c->close();
  }
  c->set_idle_iterator(budget_->add_idle(c));
}

void Endpoint::on_closed(Connection* c) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [c](auto& p) { return p.get() == c; });
  if (it == conns_.end()) return;
  auto keep = *it;  // keep alive until we return
  conns_.erase(it);
  budget_->release();
  if (!queue_.empty()) asio::post(ex_, [self = shared_from_this()] { self->dispatch(); });
}

void Endpoint::close_all() {
  auto q = std::move(queue_);
  queue_.clear();
  for (auto& x : q) {
    HttpResult r;
    r.error = ErrorKind::Interrupted;
    r.reason = "shut down";
    r.cancelled = true;
    x->finish(std::move(r));
  }
  auto cs = conns_;
  for (auto& c : cs) c->abort(true);
}

std::shared_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string* err) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_default_verify_paths(ec);
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      if (err) *err = "cannot load CA file " + ca_file + ": " + ec.message();
      return nullptr;
    }
  }
  return ctx;
}

}  // namespace fleetpower::redfish

// SPDX-License-Identifier: GPL-3.0-or-later
// The real HTTP client (Beast over loopback sockets) against a small in-process Redfish server:
// keep-alive with at most 2 connections per BMC, the global connection cap, stale keep-alive
// connections, response size limits, refused connections and header hygiene.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "transport/redfish/redfish_backend.hpp"

using namespace fleetpower;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct ServerStats {
  std::atomic<int> open{0}, max_open{0}, accepted{0}, requests{0};
  std::atomic<int> sessions{0}, deletes{0};
  std::atomic<bool> headers_ok{true};
};

/// A tiny keep-alive Redfish server: one BMC with four systems (a blade enclosure).  It runs on
/// its own thread and io_context, so the client's loop holds only the client's work.
class MiniServer {
 public:
  MiniServer(ServerStats& stats) : acc_(io_), stats_(stats) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acc_.open(ep.protocol());
    acc_.set_option(asio::socket_base::reuse_address(true));
    acc_.bind(ep);
    acc_.listen();
    port = acc_.local_endpoint().port();
  }
  ~MiniServer() { stop(); }
  void start() {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  std::uint16_t port = 0;
  bool close_after_response = false;  ///< drop the socket after each reply (keep-alive claimed)
  std::size_t big_body = 0;           ///< if >0, the system resource is this large
  Millis delay{40};
  int stall_first = 0;  ///< the first this many connections read requests and never answer
  int close_ordinal = 0;  ///< this connection (1-based) reads its first request and closes
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acc_.close(ec);
      for (auto& w : socks_)
        if (auto s = w.lock()) s->close(ec);
    });
    io_.stop();
    thread_.join();
  }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : sock(std::move(s)), timer(sock.get_executor()) {}
    tcp::socket sock;
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
    asio::steady_timer timer;
    bool counted_closed = false;
    int ordinal = 0;
  };

  void accept() {
    acc_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++stats_.accepted;
      int now = ++stats_.open;
      if (now > stats_.max_open) stats_.max_open = now;
      auto c = std::make_shared<Conn>(std::move(s));
      c->ordinal = stats_.accepted;
      socks_.push_back(std::shared_ptr<tcp::socket>(c, &c->sock));
      read(c);
      accept();
    });
  }
  void closed(const std::shared_ptr<Conn>& c) {
    boost::system::error_code ec;
    if (c->sock.is_open()) {
      c->sock.close(ec);
    }
    if (!c->counted_closed) {
      c->counted_closed = true;
      --stats_.open;
    }
  }
  void read(std::shared_ptr<Conn> c) {
    c->req = {};
    http::async_read(c->sock, c->buf, c->req, [this, c](boost::system::error_code ec, std::size_t) {
      if (ec) return closed(c);
      ++stats_.requests;
      if (c->req["OData-Version"] != "4.0" || c->req["Accept-Encoding"] != "identity")
        stats_.headers_ok = false;
      if (c->ordinal <= stall_first) return held_.push_back(c);  // read, never answer
      if (c->ordinal == close_ordinal) return closed(c);          // read, hang up
      c->timer.expires_after(delay);
      c->timer.async_wait([this, c](boost::system::error_code) { respond(c); });
    });
  }
  void respond(std::shared_ptr<Conn> c) {
    auto& rq = c->req;
    auto& res = c->res;
    res = {};
    res.version(11);
    res.keep_alive(true);
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    std::string t(rq.target());
    if (t == "/redfish/v1/") {
      res.body() =
          R"({"Systems":{"@odata.id":"/redfish/v1/Systems"},"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}})";
    } else if (rq.method() == http::verb::post && t == "/redfish/v1/SessionService/Sessions") {
      ++stats_.sessions;
      res.result(http::status::created);
      res.set("X-Auth-Token", "tok" + std::to_string(stats_.sessions.load()));
      res.set(http::field::location,
              "/redfish/v1/SessionService/Sessions/" + std::to_string(stats_.sessions.load()));
      res.body() = "{}";
    } else if (rq.method() == http::verb::delete_) {
      ++stats_.deletes;
      res.result(http::status::no_content);
    } else if (rq["X-Auth-Token"].empty()) {
      res.result(http::status::unauthorized);
      res.body() = "{}";
    } else if (t == "/redfish/v1/Systems") {
      res.body() =
          R"({"Members":[{"@odata.id":"/redfish/v1/Systems/N1"},{"@odata.id":"/redfish/v1/Systems/N2"},
                      {"@odata.id":"/redfish/v1/Systems/N3"},{"@odata.id":"/redfish/v1/Systems/N4"}]})";
    } else if (t.rfind("/redfish/v1/Systems/N", 0) == 0) {
      res.body() = R"({"@odata.id":")" + t + R"(","PowerState":"On","Pad":")" +
                   std::string(big_body, 'x') + "\"}";
    } else {
      res.result(http::status::not_found);
      res.body() = "{}";
    }
    res.prepare_payload();
    http::async_write(c->sock, res, [this, c](boost::system::error_code ec, std::size_t) {
      if (ec || close_after_response) return closed(c);
      read(c);
    });
  }

  asio::io_context io_;
  std::thread thread_;
  tcp::acceptor acc_;
  ServerStats& stats_;
  std::vector<std::weak_ptr<tcp::socket>> socks_;
  std::vector<std::shared_ptr<Conn>> held_;  ///< stalled connections, kept open
};

struct Op {
  Target t;
  Credential c;
  Outcome out;
  int calls = 0;
  asio::cancellation_signal sig;
};

std::vector<std::unique_ptr<Op>> run_ops(asio::io_context& /*io*/, Backend& b,
                                         std::vector<std::pair<std::uint16_t, std::string>> targets,
                                         Millis budget = Millis(5000)) {
  std::vector<std::unique_ptr<Op>> ops;
  for (auto& [port, sys] : targets) {
    auto op = std::make_unique<Op>();
    op->t.name = sys;
    op->t.bmc = "127.0.0.1";
    op->t.port = port;
    op->t.vars["scheme"] = "http";
    if (!sys.empty()) op->t.vars["system"] = sys;
    op->c.username = "admin";
    op->c.password = Secret("pw");
    ops.push_back(std::move(op));
  }
  for (auto& op : ops) {
    Op* p = op.get();
    b.start(OpContext{p->t, p->c, Request{}, Clock::now() + budget, p->sig.slot()}, [p](Outcome o) {
      ++p->calls;
      p->out = std::move(o);
    });
  }
  return ops;
}

}  // namespace

TEST_CASE("wire: four blades on one BMC share at most 2 keep-alive connections",
          "[redfish][wire]") {
  asio::io_context io;
  ServerStats stats;
  MiniServer srv(stats);
  srv.start();
  auto b = redfish::make_backend(io.get_executor(), {});  // default: the session lingers
  auto ops =
      run_ops(io, *b, {{srv.port, "N1"}, {srv.port, "N2"}, {srv.port, "N3"}, {srv.port, "N4"}});
  for (int i = 0; i < 1000; ++i) {
    io.run_for(Millis(10));
    bool all = true;
    for (auto& op : ops) all = all && op->calls == 1;
    if (all) break;
  }
  for (auto& op : ops) {
    INFO(op->out.reason);
    CHECK(op->calls == 1);
    CHECK(op->out.result == "on");
  }
  CHECK(stats.max_open <= 2);
  CHECK(stats.accepted <= 2);
  CHECK(stats.requests >= 4 + 3);
  CHECK(stats.headers_ok);
  // Concurrent operations on one BMC share one login, kept for the next operation...
  CHECK(stats.sessions == 1);
  CHECK(stats.deletes == 0);
  auto more = run_ops(io, *b, {{srv.port, "N3"}});
  for (int i = 0; i < 500 && more[0]->calls == 0; ++i) io.run_for(Millis(10));
  CHECK(more[0]->out.result == "on");
  CHECK(stats.sessions == 1);
  // ...and deleted at shutdown, after which nothing is left pending.
  b->shutdown();
  auto t0 = Clock::now();
  io.restart();
  io.run_for(std::chrono::seconds(5));
  CHECK(Clock::now() - t0 < std::chrono::seconds(1));
  CHECK(stats.deletes == 1);
  srv.stop();
}

TEST_CASE("wire: the global connection cap holds across BMCs", "[redfish][wire]") {
  asio::io_context io;
  ServerStats s1, s2, s3;
  MiniServer a(s1), bb(s2), c(s3);
  a.start();
  bb.start();
  c.start();
  redfish::Options o;
  o.session_linger = Millis(0);
  o.max_conns_total = 1;
  auto b = redfish::make_backend(io.get_executor(), o);
  auto ops = run_ops(io, *b, {{a.port, "N1"}, {bb.port, "N2"}, {c.port, "N3"}, {a.port, "N4"}});
  // Count concurrently open connections over all three servers by sampling.
  int max_total = 0;
  asio::steady_timer sampler(io);
  std::function<void()> sample = [&] {
    max_total = std::max(max_total, s1.open + s2.open + s3.open);
    sampler.expires_after(Millis(2));
    sampler.async_wait([&](boost::system::error_code ec) {
      if (!ec) sample();
    });
  };
  sample();
  for (int i = 0; i < 1000; ++i) {
    io.run_for(Millis(10));
    bool all = true;
    for (auto& op : ops) all = all && op->calls == 1;
    if (all) break;
  }
  sampler.cancel();
  for (auto& op : ops) {
    INFO(op->out.reason);
    CHECK(op->calls == 1);
    CHECK(op->out.result == "on");
  }
  // Closed sockets are seen by the server slightly after the client closed them.
  CHECK(max_total <= 2);
  CHECK(s1.accepted + s2.accepted + s3.accepted >= 3);
  a.stop();
  bb.stop();
  c.stop();
}

TEST_CASE("wire: a server that drops keep-alive connections is handled", "[redfish][wire]") {
  asio::io_context io;
  ServerStats stats;
  MiniServer srv(stats);
  srv.close_after_response = true;
  srv.start();
  redfish::Options o;
  o.session_linger = Millis(0);
  auto b = redfish::make_backend(io.get_executor(), o);
  auto ops = run_ops(io, *b, {{srv.port, "N2"}});
  io.run_for(std::chrono::seconds(10));
  INFO(ops[0]->out.reason);
  CHECK(ops[0]->calls == 1);
  CHECK(ops[0]->out.result == "on");
  CHECK(stats.accepted >= 4);  // every request needed a fresh connection
  srv.stop();
}

TEST_CASE("wire: large responses within the limit are read in full", "[redfish][wire]") {
  asio::io_context io;
  ServerStats stats;
  MiniServer srv(stats);
  srv.big_body = 300000;  // larger than the read buffer, below the 4 MiB default limit
  srv.start();
  redfish::Options o;
  o.session_linger = Millis(0);
  auto b = redfish::make_backend(io.get_executor(), o);
  auto ops = run_ops(io, *b, {{srv.port, "N1"}, {srv.port, "N2"}});
  io.run_for(std::chrono::seconds(10));
  for (auto& op : ops) {
    INFO(op->out.reason);
    CHECK(op->out.result == "on");
  }
  srv.stop();
}

TEST_CASE("wire: oversized responses are refused", "[redfish][wire]") {
  asio::io_context io;
  ServerStats stats;
  MiniServer srv(stats);
  srv.big_body = 200000;
  srv.start();
  redfish::Options o;
  o.session_linger = Millis(0);
  o.max_body_bytes = 64 * 1024;
  auto b = redfish::make_backend(io.get_executor(), o);
  auto ops = run_ops(io, *b, {{srv.port, "N1"}});
  io.run_for(std::chrono::seconds(10));
  CHECK(ops[0]->calls == 1);
  CHECK(ops[0]->out.error == ErrorKind::Protocol);
  CHECK(ops[0]->out.reason.find("larger than 65536 bytes") != std::string::npos);
  srv.stop();
}

TEST_CASE("wire: refused connection and a silent peer", "[redfish][wire]") {
  asio::io_context io;
  // A port with nothing listening.
  tcp::acceptor tmp(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto dead_port = tmp.local_endpoint().port();
  tmp.close();
  // A listener that never accepts/answers (backlog only).
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto b = redfish::make_backend(io.get_executor(), {});
  auto ops = run_ops(io, *b, {{dead_port, ""}, {silent.local_endpoint().port(), ""}}, Millis(300));
  auto t0 = Clock::now();
  io.run_for(std::chrono::seconds(5));
  CHECK(Clock::now() - t0 < std::chrono::seconds(2));
  CHECK(ops[0]->calls == 1);
  CHECK(ops[0]->out.error == ErrorKind::Connection);
  CHECK(ops[0]->out.reason.find("refused") != std::string::npos);
  CHECK(ops[1]->calls == 1);
  CHECK(ops[1]->out.error == ErrorKind::Timeout);
  CHECK(ops[1]->out.reason.find("timed out waiting for the reply to the service root") !=
        std::string::npos);
}

TEST_CASE("wire: a GET stuck on one connection is hedged on another, again when a hedge fails",
          "[redfish][wire]") {
  // The first connection swallows its request (a stalled TCP path).
  struct Case {
    const char* what;
    Millis hedge_after;
    int close_ordinal;  ///< this connection reads the request and hangs up (a failing hedge)
    Millis budget;
    int min_accepted;  ///< connections the GET must have used (0: it must time out)
    Millis max_took;
  };
  const Case cases[] = {
      {"hedged on a second connection", Millis(200), 0, Millis(1500), 2, Millis(1400)},
      {"not hedged: times out", Millis(0), 0, Millis(1500), 0, Millis(0)},
      // The hedge's connection hangs up: the GET is back on one stuck connection, and one
      // interval later it goes out again, on a third connection, which answers.
      {"the hedge fails, a second hedge answers", Millis(200), 2, Millis(2500), 3, Millis(2000)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    asio::io_context io;
    ServerStats stats;
    MiniServer srv(stats);
    srv.stall_first = 1;
    srv.close_ordinal = c.close_ordinal;
    srv.start();
    redfish::Options o;
    o.hedge_after = c.hedge_after;
    o.session_linger = Millis(0);
    auto b = redfish::make_backend(io.get_executor(), o);
    auto ops = run_ops(io, *b, {{srv.port, "N2"}}, c.budget);
    auto t0 = Clock::now();
    io.run_for(std::chrono::seconds(5));
    auto took = Clock::now() - t0;
    REQUIRE(ops[0]->calls == 1);  // completes exactly once, hedged or not
    INFO(ops[0]->out.reason);
    if (c.min_accepted > 0) {
      CHECK(ops[0]->out.ok());
      CHECK(ops[0]->out.state == PowerState::On);
      CHECK(stats.accepted >= c.min_accepted);
      CHECK(took < c.max_took);
    } else {
      CHECK(ops[0]->out.error == ErrorKind::Timeout);
      CHECK(ops[0]->out.reason.find("service root") != std::string::npos);
    }
    srv.stop();
  }
}

TEST_CASE("wire: cancellation aborts the socket and completes once", "[redfish][wire]") {
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto b = redfish::make_backend(io.get_executor(), {});
  auto ops = run_ops(io, *b, {{silent.local_endpoint().port(), ""}}, Millis(10000));
  asio::steady_timer t(io);
  t.expires_after(Millis(100));
  t.async_wait(
      [&](boost::system::error_code) { ops[0]->sig.emit(asio::cancellation_type::terminal); });
  auto t0 = Clock::now();
  io.run_for(std::chrono::seconds(5));
  CHECK(Clock::now() - t0 < std::chrono::seconds(2));
  CHECK(ops[0]->calls == 1);
  CHECK(ops[0]->out.error == ErrorKind::Interrupted);
}

namespace {
// Runs the loop until every op completed once (or ~10 s passed).
void run_until_done(asio::io_context& io, const std::vector<std::unique_ptr<Op>>& ops) {
  for (int i = 0; i < 1000; ++i) {
    io.run_for(Millis(10));
    bool all = true;
    for (auto& op : ops) all = all && op->calls == 1;
    if (all) break;
  }
}
}  // namespace

// Regression: at the global cap, making room by evicting an idle keep-alive connection of another
// BMC erased that connection's idle-list entry twice (a crash with more BMCs than the cap).
TEST_CASE("wire: at the global cap idle connections of other BMCs are evicted", "[redfish][wire]") {
  asio::io_context io;
  std::vector<std::unique_ptr<ServerStats>> stats;
  std::vector<std::unique_ptr<MiniServer>> srv;
  for (int i = 0; i < 6; ++i) {
    stats.push_back(std::make_unique<ServerStats>());
    srv.push_back(std::make_unique<MiniServer>(*stats.back()));
    srv.back()->delay = Millis(5);
    srv.back()->start();
  }
  redfish::Options o;  // default session linger: finished BMCs keep an idle connection
  o.max_conns_total = 2;
  auto b = redfish::make_backend(io.get_executor(), o);
  auto open_total = [&] {
    int n = 0;
    for (auto& s : stats) n += s->open;
    return n;
  };
  // Wave 1 fills the cap with two BMCs whose connections then sit idle.
  auto w1 = run_ops(io, *b, {{srv[0]->port, "N1"}, {srv[1]->port, "N2"}});
  run_until_done(io, w1);
  for (auto& op : w1) {
    INFO(op->out.reason);
    CHECK(op->calls == 1);
    CHECK(op->out.result == "on");
  }
  // Wave 2: four more BMCs than the cap allows; each needs an idle connection evicted.
  auto w2 = run_ops(io, *b,
                    {{srv[2]->port, "N1"},
                     {srv[3]->port, "N2"},
                     {srv[4]->port, "N3"},
                     {srv[5]->port, "N4"},
                     {srv[0]->port, "N2"}});
  int max_total = 0;
  for (int i = 0; i < 1000; ++i) {
    io.run_for(Millis(5));
    max_total = std::max(max_total, open_total());
    bool all = true;
    for (auto& op : w2) all = all && op->calls == 1;
    if (all) break;
  }
  for (auto& op : w2) {
    INFO(op->out.reason);
    CHECK(op->calls == 1);
    CHECK(op->out.result == "on");
  }
  for (int i = 2; i < 6; ++i) CHECK(stats[i]->accepted >= 1);
  // Servers see a close slightly after the client did it: allow one in-flight close.
  CHECK(max_total <= 3);
  b->shutdown();
  io.restart();
  io.run_for(std::chrono::seconds(5));
  for (auto& s : srv) s->stop();
}

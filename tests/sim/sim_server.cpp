// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: the event loop.  One io_context on one thread serves every simulated BMC:
// one acceptor per BMC (own loopback address, or own port), connections as small state
// machines (TLS handshake -> read request -> [fault] -> reply -> keep-alive), a single timer
// queue for all power transitions, and a control FIFO for run-time fault changes.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <queue>
#include <random>
#include <sstream>

#include "sim.hpp"

namespace fleetpower::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

bool base64_decode(std::string_view in, std::string* out) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = i;
    return t;
  }();
  out->clear();
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    int d = table[static_cast<unsigned char>(c)];
    if (d < 0) return false;
    val = (val << 6) + d;
    bits += 6;
    if (bits >= 0) {
      out->push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return true;
}

std::string random_token(std::size_t n) {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* a = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'x');
  for (auto& c : s) c = a[rng() % 36];
  return s;
}

bool parse_ipv4(const std::string& s, std::uint32_t* out) {
  error_code ec;
  auto a = asio::ip::make_address_v4(s, ec);
  if (ec) return false;
  *out = a.to_uint();
  return true;
}

std::string ipv4_str(std::uint32_t v) { return asio::ip::address_v4(v).to_string(); }

/// Next usable loopback address: skips .0 and .255 in the last octet.
std::uint32_t next_addr(std::uint32_t a) {
  do ++a;
  while ((a & 0xff) == 0 || (a & 0xff) == 255);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Redfish error bodies (Base message registry ids; wording our own).

struct Msg {
  std::string id;  ///< without the registry prefix, e.g. "PropertyValueNotInList"
  std::string message;
  std::vector<std::string> args;
  std::string severity = "Warning";
  std::string resolution;
};

json::object message_obj(const Msg& m) {
  json::array args;
  for (const auto& a : m.args) args.emplace_back(a);
  json::object o{{"@odata.type", "#Message.v1_1_1.Message"},
                 {"MessageId", m.id.find('.') != std::string::npos ? m.id : "Base.1.8." + m.id},
                 {"Message", m.message},
                 {"MessageArgs", std::move(args)},
                 {"Severity", m.severity},
                 {"MessageSeverity", m.severity}};
  if (!m.resolution.empty()) o["Resolution"] = m.resolution;
  return o;
}

std::string error_body(const Msg& m) {
  json::object e{
      {"code", "Base.1.8.GeneralError"},
      {"message", "A general error has occurred. See ExtendedInfo for more information."},
      {"@Message.ExtendedInfo", json::array{message_obj(m)}}};
  return json::serialize(json::object{{"error", std::move(e)}});
}

std::string hpe_success_body() {
  json::object e{
      {"code", "iLO.0.10.ExtendedInfo"},
      {"message", "See @Message.ExtendedInfo for more information."},
      {"@Message.ExtendedInfo", json::array{json::object{{"MessageId", "Base.1.4.Success"}}}}};
  return json::serialize(json::object{{"error", std::move(e)}});
}

// ---------------------------------------------------------------------------------------------
// Per-BMC state (kept small: 5000 BMCs share the parsed trees).

enum class Power : std::uint8_t { Off, PoweringOn, On, PoweringOff };
const char* power_str(Power p) {
  switch (p) {
    case Power::Off:
      return "Off";
    case Power::PoweringOn:
      return "PoweringOn";
    case Power::On:
      return "On";
    case Power::PoweringOff:
      return "PoweringOff";
  }
  return "Off";
}

struct SysState {
  Power power = Power::Off;
  bool then_on = false;        ///< after PoweringOff settles, start PoweringOn (graceful restart)
  std::uint32_t gen = 0;       ///< bumps on every change; stale timer entries are ignored
  std::uint32_t version = 1;   ///< ETag source: bumps on every PATCH
  Clock::time_point settle{};  ///< when the current transition chain ends
  std::string boot_target, boot_enabled, boot_mode, led;
  bool locate = false;
  std::string cause;  ///< reset type that started the current transition
};

struct Session {
  std::string id, token, user;
  Clock::time_point last_used;
};

struct Task {
  std::uint32_t id = 0;
  std::size_t sys = 0;
  std::string reset_type;
  Clock::time_point done;
  std::string start_iso;
};

struct Bmc {
  std::size_t index = 0;  ///< 0-based
  std::string address;
  unsigned port = 0;
  const Personality* pers = nullptr;
  Faults faults;
  long requests = 0;  ///< counted for times=K
  std::vector<SysState> sys;
  std::vector<Session> sessions;
  std::uint64_t next_session = 1;
  std::deque<Task> tasks;
  std::uint32_t next_task = 1;
  int conns = 0;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<double> watts_on;         ///< per system: draw while on (--watts)
  std::string power_res = "power";      ///< --power-resource: power|env|both|none|null
};

struct TimerEntry {
  Clock::time_point when;
  std::uint32_t bmc;
  std::uint32_t sys;
  std::uint32_t gen;
  bool operator>(const TimerEntry& o) const { return when > o.when; }
};

/// What the router decided; the connection carries it out (with the BMC's faults).
struct Reply {
  enum class Mode { Normal, Hang, Reset } mode = Mode::Normal;
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool is_json = true;
  bool close = false;
  Millis delay{0};
  Millis trickle{0};
  std::size_t trickle_chunk = 8;
  /// Faults applied after the request was carried out: send only the headers and hang, or
  /// headers and half the body and close.
  enum class Cut { None, HeadersHang, Truncate } cut = Cut::None;
};

using Request = http::request<http::string_body>;

class Sim;
void start_conn(Sim& sim, std::size_t bmc, tcp::socket sock);

// ---------------------------------------------------------------------------------------------

class Sim {
 public:
  Sim(const Config& cfg, asio::io_context& ioc)
      : cfg_(cfg), ioc_(ioc), power_timer_(ioc), ssl_ctx_(ssl::context::tls_server) {}

  const Config& cfg() const { return cfg_; }
  asio::io_context& ioc() { return ioc_; }
  ssl::context& ssl_ctx() { return ssl_ctx_; }
  Bmc& bmc(std::size_t i) { return bmcs_[i]; }
  const CertSet* certs() const { return certs_.get(); }
  int& total_conns() { return total_conns_; }
  /// Expires when the Sim is destroyed: connections still queued in the io_context (destroyed
  /// after the Sim) must not touch it then.
  std::weak_ptr<int> alive_token() const { return alive_; }
  int max_conns_total() const { return max_conns_total_; }

  int run();
  Reply handle(std::size_t bi, const Request& req, const std::string& remote);

 private:
  bool setup(std::string* err);
  bool load_personalities(std::string* err);
  void apply_rules(const std::vector<FaultRule>& rules, bool at_start);
  bool write_inventory(std::string* err);
  bool write_credentials(std::string* err);
  bool write_bmcs_table(std::string* err);
  void write_state();
  bool listen_all(std::string* err);
  void do_accept(std::size_t bi);
  void start_control();
  void read_control();
  void control_command(const std::string& line);
  std::string node_name(std::size_t bi, std::size_t si) const;

  // events
  void event(std::size_t bi, int si, json::object o);

  // power
  void power_set(std::size_t bi, std::size_t si, Power to, const std::string& cause);
  void power_start(std::size_t bi, std::size_t si, Power transitional, Millis d);
  void schedule(Clock::time_point when, std::size_t bi, std::size_t si);
  void arm_timer();
  void on_timer();
  void apply_reset(std::size_t bi, std::size_t si, const std::string& type);
  Millis on_delay(std::size_t bi) const {
    return bmcs_[bi].faults.on_delay.count() >= 0 ? bmcs_[bi].faults.on_delay : cfg_.on_delay;
  }
  Millis off_delay(std::size_t bi) const {
    return bmcs_[bi].faults.off_delay.count() >= 0 ? bmcs_[bi].faults.off_delay : cfg_.off_delay;
  }

  // request handlers
  bool authenticate(Bmc& b, const Request& req, std::string* user);
  Reply login(std::size_t bi, const Request& req);
  Reply logout(std::size_t bi, const std::string& id);
  Reply sessions_collection(Bmc& b);
  Reply session_get(Bmc& b, const std::string& id);
  Reply system_get(std::size_t bi, std::size_t si);
  Reply system_patch(std::size_t bi, std::size_t si, const Request& req, bool via_settings);
  Reply settings_get(std::size_t bi, std::size_t si);
  bool setup_power(std::string* err);
  bool write_power_table(std::string* err);
  double reading(std::size_t bi, std::size_t si) const;
  Reply chassis_get(std::size_t bi, std::size_t si, const std::string& path);
  bool power_subsystem_get(std::size_t bi, const std::string& path, Reply* r);
  /// System index of the chassis whose `suffix` sub-resource `path` is, else -1.
  long chassis_sub(std::size_t bi, const std::string& path, std::string_view suffix) const {
    const auto& cp = bmcs_[bi].pers->chassis_paths;
    if (path.size() <= suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
      return -1;
    auto it = cp.find(path.substr(0, path.size() - suffix.size()));
    return it == cp.end() ? -1 : static_cast<long>(it->second);
  }
  /// Boot only writable through a @Redfish.Settings object (settings knob, AMI personality).
  bool settings_on(std::size_t bi) const {
    return bmcs_[bi].faults.settings || !bmcs_[bi].pers->settings_suffix.empty();
  }
  std::string settings_suffix(std::size_t bi) const {
    const auto& s = bmcs_[bi].pers->settings_suffix;
    return s.empty() ? "/Settings" : s;
  }
  /// System index whose settings object is `path` (only with settings on), else -1.
  long settings_index(std::size_t bi, const std::string& path) const {
    const Bmc& b = bmcs_[bi];
    std::string suf = settings_suffix(bi);
    if (!settings_on(bi) || path.size() <= suf.size() ||
        path.compare(path.size() - suf.size(), suf.size(), suf) != 0)
      return -1;
    auto it = b.pers->system_paths.find(path.substr(0, path.size() - suf.size()));
    return it == b.pers->system_paths.end() ? -1 : static_cast<long>(it->second);
  }
  Reply reset(std::size_t bi, std::size_t si, const Request& req);
  Reply oem_button(std::size_t bi, std::size_t si, const Request& req);
  Reply task_get(Bmc& b, std::uint32_t id, bool monitor);
  void purge_sessions(Bmc& b);
  void expand_members(std::size_t bi, Reply* r);
  std::string etag(std::size_t bi, std::size_t si) const;
  json::object task_json(const Bmc& b, const Task& t) const;

  const Config& cfg_;
  asio::io_context& ioc_;
  std::vector<std::unique_ptr<Personality>> pers_;
  std::vector<Bmc> bmcs_;
  std::shared_ptr<CertSet> certs_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  asio::steady_timer power_timer_;
  Clock::time_point armed_{Clock::time_point::max()};
  ssl::context ssl_ctx_;
  FILE* events_ = nullptr;
  std::string password_;
  std::string ca_path_;
  int total_conns_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  int max_conns_total_ = 1000;
  std::unique_ptr<asio::posix::stream_descriptor> control_;
  asio::streambuf control_buf_{65536};
  std::size_t pad_ = 4;
  std::map<std::string, std::size_t> vendor_pers_;  ///< vendor name -> index in pers_
};

// ---------------------------------------------------------------------------------------------
// Reply builders

Reply json_reply(unsigned status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply error_reply(unsigned status, Msg m) { return json_reply(status, error_body(m)); }

Reply not_found(const std::string& path) {
  return error_reply(
      404, {"ResourceMissingAtURI",
            "The resource at the URI '" + path + "' was not found.",
            {path},
            "Critical",
            "Place a valid resource at the URI or correct the URI and resubmit the request."});
}

Reply method_not_allowed(const std::string& method, const std::string& path) {
  Reply r = error_reply(405, {"OperationNotAllowed",
                              "The " + method + " operation is not allowed on '" + path + "'.",
                              {method, path},
                              "Critical",
                              "Use a supported method."});
  return r;
}

Reply unauthorized(bool basic_realm) {
  Reply r = error_reply(401, {"NoValidSession",
                              "There is no valid session established with the implementation.",
                              {},
                              "Critical",
                              "Establish a session before attempting any operations."});
  if (basic_realm) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"fleetpower-sim\"");
  return r;
}

Reply malformed_json() {
  return error_reply(400, {"MalformedJSON",
                           "The request body submitted was malformed JSON and could not be parsed "
                           "by the receiving service.",
                           {},
                           "Critical",
                           "Ensure that the request body is valid JSON and resubmit the request."});
}

bool parse_body(const Request& req, json::value* out) {
  if (req.body().size() > (1u << 20)) return false;
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 32;
  json::monotonic_resource mr;
  json::value v = json::parse(req.body(), ec, {}, opt);
  if (ec) return false;
  *out = std::move(v);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Setup

bool Sim::load_personalities(std::string* err) {
  if (!cfg_.vendors.empty()) {
    if (!cfg_.mockups.empty()) {
      *err = "--vendor/--vendor-mix and --mockup cannot be combined";
      return false;
    }
    for (const auto& v : cfg_.vendors) {
      if (vendor_pers_.count(v)) continue;
      auto p = std::make_unique<Personality>();
      std::string e;
      if (!load_vendor(v, cfg_.mockup_root, p.get(), &e)) {
        *err = "vendor " + v + ": " + e + " (mockups read from " + cfg_.mockup_root +
               "; set --mockup-root or $FLEETPOWER_MOCKUPS)";
        return false;
      }
      vendor_pers_[v] = pers_.size();
      pers_.push_back(std::move(p));
    }
    return true;
  }
  std::vector<std::string> names = cfg_.mockups;
  if (names.empty()) names.push_back("rackmount");
  for (const auto& n : names) {
    auto p = std::make_unique<Personality>();
    bool is_builtin = false;
    for (const auto& b : builtin_names())
      if (n == b || n == "builtin:" + b) is_builtin = true;
    bool ok = is_builtin ? load_builtin(n.rfind("builtin:", 0) == 0 ? n.substr(8) : n, p.get(), err)
                         : load_mockup_dir(n, p.get(), err);
    if (!ok) return false;
    pers_.push_back(std::move(p));
  }
  return true;
}

std::string Sim::node_name(std::size_t bi, std::size_t si) const {
  std::string n = fmt::format("{}{:0{}}", cfg_.host_prefix, bi + 1, pad_);
  if (bmcs_[bi].pers->systems.size() > 1) n += "-n" + std::to_string(si + 1);
  return n;
}

void merge_faults(Faults* d, const Faults& s) {
  if (s.latency_max.count()) {
    d->latency = s.latency;
    d->latency_max = s.latency_max;
  }
  d->hang |= s.hang;
  d->blackhole |= s.blackhole;
  d->down |= s.down;
  if (s.http_status) d->http_status = s.http_status;
  if (s.busy_retry_after >= 0) d->busy_retry_after = s.busy_retry_after;
  d->unauth |= s.unauth;
  d->garbage |= s.garbage;
  d->reset |= s.reset;
  d->headers_hang |= s.headers_hang;
  d->truncate |= s.truncate;
  d->reset_after |= s.reset_after;
  if (s.huge) d->huge = s.huge;
  if (s.trickle.count()) {
    d->trickle = s.trickle;
    d->trickle_chunk = s.trickle_chunk;
  }
  d->tasks |= s.tasks;
  d->stuck |= s.stuck;
  d->ignore_reset |= s.ignore_reset;
  d->nobasic |= s.nobasic;
  d->nosession |= s.nosession;
  d->settings |= s.settings;
  d->badlist |= s.badlist;
  d->strict_state |= s.strict_state;
  if (s.on_delay.count() >= 0) d->on_delay = s.on_delay;
  if (s.off_delay.count() >= 0) d->off_delay = s.off_delay;
  if (s.etag_mode != "exact") d->etag_mode = s.etag_mode;
  if (s.session_limit >= 0) d->session_limit = s.session_limit;
  if (s.times >= 0) d->times = s.times;
  if (!s.cert.empty()) d->cert = s.cert;
}

void Sim::apply_rules(const std::vector<FaultRule>& rules, bool at_start) {
  for (const auto& r : rules) {
    std::size_t last = r.last == 0 ? bmcs_.size() : std::min(r.last, bmcs_.size());
    for (std::size_t i = r.first; i <= last; ++i) {
      Bmc& b = bmcs_[i - 1];
      if (r.clear) {
        std::string cert = b.faults.cert;
        b.faults = Faults{};
        b.faults.cert = cert;  // certificates are chosen at start
      }
      merge_faults(&b.faults, r.faults);
      b.requests = 0;
      if (!at_start)
        event(i - 1, -1, json::object{{"event", "faults"}, {"faults", b.faults.describe()}});
    }
  }
}

bool Sim::setup(std::string* err) {
  namespace fs = std::filesystem;
  std::error_code fec;
  fs::create_directories(cfg_.state_dir, fec);
  if (fec) {
    *err = "cannot create state dir " + cfg_.state_dir + ": " + fec.message();
    return false;
  }
  if (!load_personalities(err)) return false;

  // Raise the descriptor limit: listeners + connections.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t want = static_cast<rlim_t>(cfg_.count) * 2 + 4096;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
      rlimit r2 = rl;
      r2.rlim_max = want;
      r2.rlim_cur = want;
      if (setrlimit(RLIMIT_NOFILE, &r2) == 0) rl = r2;
    }
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    long avail = static_cast<long>(rl.rlim_cur) - static_cast<long>(cfg_.count) - 64;
    if (avail < 16) {
      *err = fmt::format("RLIMIT_NOFILE {} is too low for {} BMCs", rl.rlim_cur, cfg_.count);
      return false;
    }
    max_conns_total_ = cfg_.max_conns_total > 0 ? std::min<long>(cfg_.max_conns_total, avail)
                                                : static_cast<int>(std::min<long>(avail, 1 << 20));
  }

  std::uint32_t addr = 0;
  if (!parse_ipv4(cfg_.address_base, &addr)) {
    *err = "bad --address-base " + cfg_.address_base;
    return false;
  }
  // 10.0.0.0/8 only makes sense inside a network namespace a test made (netem tests).
  if ((addr >> 24) != 127 && (addr >> 24) != 10) {
    *err = "--address-base must be a loopback address (127.0.0.0/8) or 10.0.0.0/8";
    return false;
  }
  const std::uint32_t net8 = addr >> 24;
  pad_ = std::max<std::size_t>(4, std::to_string(cfg_.count).size());
  bmcs_.resize(cfg_.count);
  std::size_t np = pers_.size();
  for (std::size_t i = 0; i < cfg_.count; ++i) {
    Bmc& b = bmcs_[i];
    b.index = i;
    if (cfg_.port_per_bmc) {
      b.address = cfg_.address_base;
      b.port = cfg_.port + static_cast<unsigned>(i);
      if (b.port > 65535) {
        *err = "port range exceeds 65535";
        return false;
      }
    } else {
      if (i > 0) addr = next_addr(addr);
      if ((addr >> 24) != net8) {
        *err = "address range leaves its /8";
        return false;
      }
      b.address = ipv4_str(addr);
      b.port = cfg_.port;
    }
    // Personalities in contiguous blocks, as even as possible; vendors round-robin.
    std::size_t pi = cfg_.vendors.empty()
                         ? std::min(np - 1, i * np / cfg_.count)
                         : vendor_pers_.at(cfg_.vendors[i % cfg_.vendors.size()]);
    b.pers = pers_[pi].get();
    b.sys.resize(b.pers->systems.size());
    for (std::size_t s = 0; s < b.sys.size(); ++s) {
      const auto& t = b.pers->systems[s];
      auto& st = b.sys[s];
      std::string init = cfg_.initial_power == "on"    ? "On"
                         : cfg_.initial_power == "off" ? "Off"
                                                       : t.power_initial;
      st.power = init == "On" ? Power::On : Power::Off;
      if (auto* boot = t.base.if_contains("Boot"); boot && boot->is_object()) {
        auto str = [&](const char* k, const char* def) {
          auto* v = boot->as_object().if_contains(k);
          return v && v->is_string() ? std::string(v->as_string()) : std::string(def);
        };
        st.boot_target = str("BootSourceOverrideTarget", "None");
        st.boot_enabled = str("BootSourceOverrideEnabled", "Disabled");
        st.boot_mode = str("BootSourceOverrideMode", "");
      }
      if (auto* led = t.base.if_contains("IndicatorLED"); led && led->is_string())
        st.led = led->as_string();
      if (auto* la = t.base.if_contains("LocationIndicatorActive"); la && la->is_bool())
        st.locate = la->as_bool();
    }
  }
  std::vector<FaultRule> rules;
  if (!parse_faults(cfg_.faults, &rules, err)) return false;
  apply_rules(rules, true);
  if (!setup_power(err)) return false;

  std::string ev = cfg_.state_dir + "/events.jsonl";
  events_ = std::fopen(ev.c_str(), "a");
  if (!events_) {
    *err = "cannot open " + ev;
    return false;
  }
  setvbuf(events_, nullptr, _IOLBF, 1 << 16);

  password_ = cfg_.password.empty() ? random_password(20) : cfg_.password;
  ca_path_ = std::filesystem::absolute(cfg_.state_dir + "/ca.pem").string();
  if (!cfg_.http) {
    std::vector<CertRequest> reqs;
    reqs.reserve(bmcs_.size());
    for (const auto& b : bmcs_) reqs.push_back({b.address, b.faults.cert});
    certs_ = make_certs(reqs, ca_path_, err);
    if (!certs_) return false;
    SSL_CTX* c = ssl_ctx_.native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    // Idle keep-alive connections give their 16 KiB read/write buffers back: thousands of
    // connections stay cheap.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::single_dh_use);
  }
  return true;
}

bool Sim::listen_all(std::string* err) {
  for (std::size_t i = 0; i < bmcs_.size(); ++i) {
    Bmc& b = bmcs_[i];
    if (b.faults.down) continue;
    error_code ec;
    auto addr = asio::ip::make_address(b.address, ec);
    tcp::endpoint ep(addr, static_cast<unsigned short>(b.port));
    auto acc = std::make_unique<tcp::acceptor>(ioc_);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(1024, ec);
    if (ec) {
      *err = fmt::format("cannot listen on {}:{}: {}", b.address, b.port, ec.message());
      return false;
    }
    b.acceptor = std::move(acc);
    do_accept(i);
  }
  return true;
}

void Sim::do_accept(std::size_t bi) {
  Bmc& b = bmcs_[bi];
  if (!b.acceptor) return;
  b.acceptor->async_accept([this, bi](error_code ec, tcp::socket sock) {
    Bmc& bb = bmcs_[bi];
    if (ec == asio::error::operation_aborted || !bb.acceptor) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      auto t = std::make_shared<asio::steady_timer>(ioc_, Millis(50));
      t->async_wait([this, bi, t](error_code) { do_accept(bi); });
      return;
    }
    if (bb.conns >= cfg_.max_conns_per_bmc || total_conns_ >= max_conns_total_) {
      error_code ig;
      sock.close(ig);
    } else {
      try {
        start_conn(*this, bi, std::move(sock));
      } catch (const std::exception&) {
        // SSL_new and friends can fail under memory pressure: drop this connection only.
      }
    }
    do_accept(bi);
  });
}

bool Sim::write_inventory(std::string* err) {
  if (cfg_.inventory_out.empty()) return true;
  std::string o = "# Generated by fleetpower-sim: the simulated Redfish fleet it serves.\n";
  o += "defaults: { protocol: redfish, credentials: sim";
  if (cfg_.http)
    o += ", scheme: http";
  else
    o += ", ca_file: " + yaml_quote(ca_path_);
  o += " }\ngroups:\n";
  // Runs of BMCs with the same personality and contiguous addresses (same /24) or ports.
  std::size_t i = 0;
  std::map<const Personality*, int> chunks;
  std::vector<std::pair<std::string, std::string>> group_names;  // (tree, group)
  bool single = false;
  {
    // One group named exactly host_prefix when everything fits in one run.
    std::size_t j = 1;
    while (j < bmcs_.size() && bmcs_[j].pers == bmcs_[0].pers && !cfg_.port_per_bmc &&
           (std::uint32_t)asio::ip::make_address_v4(bmcs_[j].address).to_uint() >> 8 ==
               (std::uint32_t)asio::ip::make_address_v4(bmcs_[0].address).to_uint() >> 8)
      ++j;
    single = j == bmcs_.size() && bmcs_[0].pers->systems.size() == 1 &&
             (bmcs_.size() == 1 || !cfg_.port_per_bmc);
  }
  while (i < bmcs_.size()) {
    std::size_t j = i + 1;
    if (!cfg_.port_per_bmc) {
      auto net = asio::ip::make_address_v4(bmcs_[i].address).to_uint() >> 8;
      while (j < bmcs_.size() && bmcs_[j].pers == bmcs_[i].pers &&
             (asio::ip::make_address_v4(bmcs_[j].address).to_uint() >> 8) == net)
        ++j;
    }
    const Personality& p = *bmcs_[i].pers;
    int chunkno = ++chunks[&p];
    auto first_oct = asio::ip::make_address_v4(bmcs_[i].address).to_uint() & 0xff;
    auto last_oct = asio::ip::make_address_v4(bmcs_[j - 1].address).to_uint() & 0xff;
    std::string prefix3 = bmcs_[i].address.substr(0, bmcs_[i].address.rfind('.') + 1);
    std::string bmc_expr =
        (j - i == 1) ? bmcs_[i].address : fmt::format("{}[{}-{}]", prefix3, first_oct, last_oct);
    for (std::size_t s = 0; s < p.systems.size(); ++s) {
      std::string gname;
      std::string pname;
      for (char c : p.name) pname += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      if (single)
        gname = cfg_.host_prefix;
      else
        gname = fmt::format("{}_{}_{}", cfg_.host_prefix, pname, chunkno);
      std::string suffix;
      if (p.systems.size() > 1) {
        suffix = "-n" + std::to_string(s + 1);
        gname += "_n" + std::to_string(s + 1);
      }
      std::string hosts =
          (j - i == 1)
              ? fmt::format("{}{:0{}}{}", cfg_.host_prefix, i + 1, pad_, suffix)
              : fmt::format("{}[{:0{}}-{:0{}}]{}", cfg_.host_prefix, i + 1, pad_, j, pad_, suffix);
      group_names.emplace_back(pname, gname);
      o += "  " + gname + ":\n";
      o += "    hosts: " + yaml_quote(hosts) + "\n";
      o += "    bmc: " + yaml_quote(bmc_expr) + "\n";
      o += "    port: " + std::to_string(bmcs_[i].port) + "\n";
      if (p.systems.size() > 1) o += "    system: " + yaml_quote(p.systems[s].id) + "\n";
      if (cfg_.inventory_vendors && !p.plugin.empty())
        o += "    vendor: " + yaml_quote(p.plugin) + "\n";
    }
    i = j;
  }
  if (!single) {
    // Parent groups: one per tree (when there are several) and one for the whole fleet.
    std::map<std::string, std::vector<std::string>> by_pers;
    std::vector<std::string> pers_order;
    for (const auto& g : group_names) {
      if (!by_pers.count(g.first)) pers_order.push_back(g.first);
      by_pers[g.first].push_back(g.second);
    }
    auto list = [](const std::vector<std::string>& v) {
      std::string s = "[";
      for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + v[k];
      return s + "]";
    };
    std::vector<std::string> top;
    if (pers_order.size() > 1) {
      for (const auto& pn : pers_order) {
        std::string gname = cfg_.host_prefix + "_" + pn;
        o += "  " + gname + ": { children: " + list(by_pers[pn]) + " }\n";
        top.push_back(gname);
      }
    } else {
      top = by_pers[pers_order.front()];
    }
    o += "  " + cfg_.host_prefix + ": { children: " + list(top) + " }\n";
  }
  return write_file_atomic(cfg_.inventory_out, o, 0644, err);
}

bool Sim::write_credentials(std::string* err) {
  if (cfg_.credentials_out.empty()) return true;
  std::string o = "# Generated by fleetpower-sim.\nsim: { username: " + yaml_quote(cfg_.username) +
                  ", password: " + yaml_quote(password_) + " }\n";
  return write_file_atomic(cfg_.credentials_out, o, 0600, err);
}

bool Sim::setup_power(std::string* err) {
  for (auto& b : bmcs_) {
    b.watts_on.resize(b.sys.size());
    for (std::size_t s = 0; s < b.sys.size(); ++s) b.watts_on[s] = default_watts(b.index, s);
  }
  std::vector<ValueRule> rules;
  if (!parse_value_rules(cfg_.watts, &rules, err)) {
    *err = "--watts: " + *err;
    return false;
  }
  for (const auto& r : rules) {
    double w = 0;
    if (!parse_watts_value(r.value, &w)) {
      *err = "--watts: '" + r.value + "' is not a number of watts (0..100000)";
      return false;
    }
    std::size_t last = r.last == 0 ? bmcs_.size() : std::min(r.last, bmcs_.size());
    for (std::size_t i = r.first; i <= last; ++i)
      for (auto& x : bmcs_[i - 1].watts_on) x = w;
  }
  if (!parse_value_rules(cfg_.power_resource, &rules, err)) {
    *err = "--power-resource: " + *err;
    return false;
  }
  for (const auto& r : rules) {
    if (r.value != "power" && r.value != "env" && r.value != "both" && r.value != "none" &&
        r.value != "null" && r.value != "subsystem") {
      *err = "--power-resource: '" + r.value + "' is not power, env, both, subsystem, none or null";
      return false;
    }
    std::size_t last = r.last == 0 ? bmcs_.size() : std::min(r.last, bmcs_.size());
    for (std::size_t i = r.first; i <= last; ++i) bmcs_[i - 1].power_res = r.value;
  }
  return true;
}

double Sim::reading(std::size_t bi, std::size_t si) const {
  const Bmc& b = bmcs_[bi];
  Power p = b.sys[si].power;
  double on = b.watts_on[si];
  return (p == Power::On || p == Power::PoweringOff) ? on : standby_watts(on);
}

bool Sim::write_power_table(std::string* err) {
  std::string o = "# index\thost\tsystem\tresource\twatts_on\twatts_off\n";
  for (std::size_t i = 0; i < bmcs_.size(); ++i) {
    const Bmc& b = bmcs_[i];
    for (std::size_t s = 0; s < b.sys.size(); ++s) {
      bool has = !b.pers->systems[s].chassis.empty() &&
                 b.pers->chassis_paths.count(b.pers->systems[s].chassis);
      std::string res = has ? b.power_res : "none";
      o += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", i + 1, node_name(i, s), b.pers->systems[s].id, res,
                       b.watts_on[s], standby_watts(b.watts_on[s]));
    }
  }
  return write_file_atomic(cfg_.state_dir + "/power.tsv", o, 0644, err);
}

bool Sim::power_subsystem_get(std::size_t bi, const std::string& path, Reply* r) {
  // <chassis>/PowerSubsystem, .../PowerSupplies, .../PowerSupplies/PSU1|PSU2, .../PSUn/Metrics:
  // two supplies sharing the draw equally.
  for (const auto& [cp, si] : bmcs_[bi].pers->chassis_paths) {
    if (path.rfind(cp + "/PowerSubsystem", 0) != 0) continue;
    std::string rest = path.substr(cp.size() + 15);
    std::string base = cp + "/PowerSubsystem";
    double half = reading(bi, si) / 2;
    if (rest.empty())
      *r = json_reply(200, json::serialize(json::object{
                               {"@odata.id", base},
                               {"@odata.type", "#PowerSubsystem.v1_1_0.PowerSubsystem"},
                               {"Id", "PowerSubsystem"},
                               {"Name", "Power Subsystem"},
                               {"PowerSupplies", json::object{{"@odata.id", base + "/PowerSupplies"}}}}));
    else if (rest == "/PowerSupplies")
      *r = json_reply(200, json::serialize(json::object{
                               {"@odata.id", base + "/PowerSupplies"},
                               {"@odata.type", "#PowerSupplyCollection.PowerSupplyCollection"},
                               {"Name", "Power Supplies"},
                               {"Members@odata.count", 2},
                               {"Members", json::array{json::object{{"@odata.id", base + "/PowerSupplies/PSU1"}},
                                                       json::object{{"@odata.id", base + "/PowerSupplies/PSU2"}}}}}));
    else if (rest == "/PowerSupplies/PSU1" || rest == "/PowerSupplies/PSU2")
      *r = json_reply(200, json::serialize(json::object{
                               {"@odata.id", path},
                               {"@odata.type", "#PowerSupply.v1_5_0.PowerSupply"},
                               {"Id", rest.substr(15)},
                               {"Name", "Power Supply " + rest.substr(18)},
                               {"Metrics", json::object{{"@odata.id", path + "/Metrics"}}}}));
    else if (rest == "/PowerSupplies/PSU1/Metrics" || rest == "/PowerSupplies/PSU2/Metrics")
      *r = json_reply(200, json::serialize(json::object{
                               {"@odata.id", path},
                               {"@odata.type", "#PowerSupplyMetrics.v1_0_1.PowerSupplyMetrics"},
                               {"Id", "Metrics"},
                               {"Name", "Power Supply Metrics"},
                               {"InputPowerWatts", json::object{{"Reading", half}}}}));
    else
      *r = not_found(path);
    return true;
  }
  return false;
}

Reply Sim::chassis_get(std::size_t bi, std::size_t si, const std::string& path) {
  const Bmc& b = bmcs_[bi];
  auto it = b.pers->raw.find(path);
  if (it == b.pers->raw.end()) return not_found(path);
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  if (ec || !v.is_object()) return json_reply(200, it->second);
  auto& o = v.as_object();
  o.erase("Power");
  o.erase("EnvironmentMetrics");
  o.erase("PowerSubsystem");
  const std::string& m = b.power_res;
  if (m == "power" || m == "both" || m == "null")
    o["Power"] = json::object{{"@odata.id", path + "/Power"}};
  if (m == "env" || m == "both")
    o["EnvironmentMetrics"] = json::object{{"@odata.id", path + "/EnvironmentMetrics"}};
  if (m == "subsystem")
    o["PowerSubsystem"] = json::object{{"@odata.id", path + "/PowerSubsystem"}};
  (void)si;
  return json_reply(200, json::serialize(o));
}

bool Sim::write_bmcs_table(std::string* err) {
  if (!write_power_table(err)) return false;
  std::string o =
      "# index\thost\taddress\tport\tpersonality\tsystems\tfaults\tsha256_fingerprint\tvendor\t"
      "plugin\n";
  for (std::size_t i = 0; i < bmcs_.size(); ++i) {
    const Bmc& b = bmcs_[i];
    std::string sys;
    for (const auto& s : b.pers->systems) sys += (sys.empty() ? "" : ",") + s.id;
    o += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", i + 1,
                     node_name(i, 0).substr(0, cfg_.host_prefix.size() + pad_), b.address, b.port,
                     b.pers->name, sys, b.faults.describe(),
                     certs_ ? cert_fingerprint(*certs_, i) : "-",
                     b.pers->vendor_id.empty() ? "-" : b.pers->vendor_id,
                     b.pers->plugin.empty() ? "-" : b.pers->plugin);
  }
  return write_file_atomic(cfg_.state_dir + "/bmcs.tsv", o, 0644, err);
}

void Sim::write_state() {
  json::array arr;
  for (std::size_t i = 0; i < bmcs_.size(); ++i) {
    const Bmc& b = bmcs_[i];
    json::array systems;
    for (std::size_t s = 0; s < b.sys.size(); ++s) {
      const auto& st = b.sys[s];
      systems.push_back(json::object{{"id", b.pers->systems[s].id},
                                     {"host", node_name(i, s)},
                                     {"power", power_str(st.power)},
                                     {"boot_target", st.boot_target},
                                     {"boot_enabled", st.boot_enabled},
                                     {"boot_mode", st.boot_mode}});
    }
    arr.push_back(json::object{{"bmc", i + 1},
                               {"address", b.address},
                               {"port", b.port},
                               {"personality", b.pers->name},
                               {"vendor", b.pers->vendor_id},
                               {"faults", b.faults.describe()},
                               {"sessions", b.sessions.size()},
                               {"systems", std::move(systems)}});
  }
  std::string err;
  write_file_atomic(cfg_.state_dir + "/state.json", json::serialize(arr) + "\n", 0644, &err);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  event(static_cast<std::size_t>(-1), -1,
        json::object{
            {"event", "stats"}, {"connections", total_conns_}, {"max_rss_kb", ru.ru_maxrss}});
}

// ---------------------------------------------------------------------------------------------
// Events

void Sim::event(std::size_t bi, int si, json::object o) {
  if (!events_) return;
  std::int64_t ms = 0;
  std::string ts = iso_now(&ms);
  json::object e{{"ts", ts}, {"ms", ms}};
  if (bi < bmcs_.size()) {
    const Bmc& b = bmcs_[bi];
    e["bmc"] = bi + 1;
    e["address"] = b.address;
    e["port"] = b.port;
    if (si >= 0) {
      e["host"] = node_name(bi, static_cast<std::size_t>(si));
      e["system"] = b.pers->systems[static_cast<std::size_t>(si)].id;
    }
  }
  for (auto& kv : o) e[kv.key()] = std::move(kv.value());
  std::string line = json::serialize(e);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), events_);
}

// ---------------------------------------------------------------------------------------------
// Power state machine.  Off -> PoweringOn -> On -> PoweringOff -> Off; every change is an event.

void Sim::power_set(std::size_t bi, std::size_t si, Power to, const std::string& cause) {
  SysState& st = bmcs_[bi].sys[si];
  Power from = st.power;
  st.power = to;
  ++st.gen;
  if (from != to)
    event(bi, static_cast<int>(si),
          json::object{{"event", "power"},
                       {"from", power_str(from)},
                       {"to", power_str(to)},
                       {"cause", cause}});
}

void Sim::power_start(std::size_t bi, std::size_t si, Power transitional, Millis d) {
  SysState& st = bmcs_[bi].sys[si];
  power_set(bi, si, transitional, st.cause);
  if (bmcs_[bi].faults.stuck) {
    st.settle = Clock::time_point::max();
    return;  // never completes
  }
  schedule(Clock::now() + d, bi, si);
}

void Sim::schedule(Clock::time_point when, std::size_t bi, std::size_t si) {
  timers_.push({when, static_cast<std::uint32_t>(bi), static_cast<std::uint32_t>(si),
                bmcs_[bi].sys[si].gen});
  arm_timer();
}

void Sim::arm_timer() {
  if (timers_.empty()) return;
  auto when = timers_.top().when;
  if (when >= armed_) return;
  armed_ = when;
  power_timer_.expires_at(when);
  power_timer_.async_wait([this](error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    armed_ = Clock::time_point::max();
    on_timer();
  });
}

void Sim::on_timer() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().when <= now) {
    TimerEntry e = timers_.top();
    timers_.pop();
    SysState& st = bmcs_[e.bmc].sys[e.sys];
    if (st.gen != e.gen) continue;  // superseded
    if (st.power == Power::PoweringOn) {
      power_set(e.bmc, e.sys, Power::On, st.cause);
    } else if (st.power == Power::PoweringOff) {
      power_set(e.bmc, e.sys, Power::Off, st.cause);
      if (st.then_on) {
        st.then_on = false;
        power_start(e.bmc, e.sys, Power::PoweringOn, on_delay(e.bmc));
      }
    }
  }
  arm_timer();
}

void Sim::apply_reset(std::size_t bi, std::size_t si, const std::string& type) {
  SysState& st = bmcs_[bi].sys[si];
  st.cause = type;
  st.then_on = false;
  auto now = Clock::now();
  const Millis ond = on_delay(bi), offd = off_delay(bi);
  auto on = [&]() {
    power_start(bi, si, Power::PoweringOn, ond);
    st.settle = bmcs_[bi].faults.stuck ? Clock::time_point::max() : now + ond;
  };
  auto graceful_off = [&](bool then_on) {
    power_start(bi, si, Power::PoweringOff, offd);
    st.then_on = then_on;
    st.settle = bmcs_[bi].faults.stuck ? Clock::time_point::max()
                                       : now + offd + (then_on ? ond : Millis(0));
  };
  st.settle = now;
  Power p = st.power;
  bool up = p == Power::On || p == Power::PoweringOn;
  if (type == "On" || type == "ForceOn") {
    if (!up) on();
  } else if (type == "ForceOff") {
    if (p != Power::Off) power_set(bi, si, Power::Off, type);
  } else if (type == "GracefulShutdown" || type == "Off") {
    // "Off": HPE Cray EX's non-standard value, an orderly power-off.
    if (up) graceful_off(false);
  } else if (type == "PushPowerButton") {
    if (up)
      graceful_off(false);
    else
      on();
  } else if (type == "PowerCycle" || type == "FullPowerCycle") {
    if (p != Power::Off) power_set(bi, si, Power::Off, type);
    on();
  } else if (type == "ForceRestart" || type == "GracefulRestart") {
    if (p == Power::On) {
      // A warm reset: the host restarts, power stays on.  "hard": the OS got no chance to shut
      // down (ForceRestart; GracefulRestart on iDRAC firmware that performs a hard reset).
      ++st.gen;
      bool hard = type == "ForceRestart" || bmcs_[bi].pers->graceful_restart_hard;
      json::object e{{"event", "restart"}, {"cause", type}, {"hard", hard}};
      if (type == "GracefulRestart" && hard) e["quirk"] = "graceful_restart_is_hard";
      event(bi, static_cast<int>(si), std::move(e));
    } else {
      if (p != Power::Off) power_set(bi, si, Power::Off, type);
      on();
    }
  } else if (type == "Nmi") {
    event(bi, static_cast<int>(si), json::object{{"event", "nmi"}, {"power", power_str(p)}});
  } else {
    event(bi, static_cast<int>(si), json::object{{"event", "other"}, {"cause", type}});
  }
}

// ---------------------------------------------------------------------------------------------
// Request routing

void Sim::purge_sessions(Bmc& b) {
  auto now = Clock::now();
  auto& v = b.sessions;
  for (std::size_t i = 0; i < v.size();) {
    if (now - v[i].last_used > cfg_.session_timeout) {
      event(b.index, -1, json::object{{"event", "session"}, {"action", "expire"}, {"id", v[i].id}});
      v.erase(v.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

bool Sim::authenticate(Bmc& b, const Request& req, std::string* user) {
  auto tok = req.find("X-Auth-Token");
  if (tok != req.end()) {
    purge_sessions(b);
    for (auto& s : b.sessions)
      if (s.token == tok->value()) {
        s.last_used = Clock::now();
        *user = s.user;
        return true;
      }
    return false;
  }
  auto auth = req.find(http::field::authorization);
  if (auth != req.end() && !b.faults.nobasic) {
    std::string_view v = auth->value();
    if (v.size() > 6 && (v.substr(0, 6) == "Basic " || v.substr(0, 6) == "basic ")) {
      std::string dec;
      if (!base64_decode(v.substr(6), &dec)) return false;
      auto c = dec.find(':');
      if (c == std::string::npos) return false;
      if (dec.substr(0, c) == cfg_.username && dec.substr(c + 1) == password_) {
        *user = cfg_.username;
        return true;
      }
    }
  }
  return false;
}

Reply Sim::login(std::size_t bi, const Request& req) {
  Bmc& b = bmcs_[bi];
  if (b.faults.nosession) return method_not_allowed("POST", b.pers->sessions_path);
  json::value body;
  if (!parse_body(req, &body) || !body.is_object()) return malformed_json();
  auto* u = body.as_object().if_contains("UserName");
  auto* p = body.as_object().if_contains("Password");
  if (!u || !p) {
    return error_reply(400,
                       {"PropertyMissing",
                        std::string("The property ") + (u ? "Password" : "UserName") +
                            " is a required property and must be included in the request.",
                        {u ? "Password" : "UserName"},
                        "Warning",
                        "Ensure that the property is in the request body and has a valid value."});
  }
  if (!u->is_string() || !p->is_string() || u->as_string() != cfg_.username ||
      p->as_string() != password_) {
    event(bi, -1, json::object{{"event", "session"}, {"action", "login_failed"}});
    return error_reply(401, {"ResourceAtUriUnauthorized",
                             "While accessing the resource at the session service, the service "
                             "received an authorization error: invalid credentials.",
                             {b.pers->sessions_path, "invalid credentials"},
                             "Critical",
                             "Ensure that the appropriate access is provided for the service."});
  }
  purge_sessions(b);
  int limit = b.faults.session_limit >= 0 ? b.faults.session_limit : cfg_.session_limit;
  if (static_cast<int>(b.sessions.size()) >= limit) {
    event(bi, -1, json::object{{"event", "session"}, {"action", "limit"}, {"limit", limit}});
    return error_reply(503,
                       {"SessionLimitExceeded",
                        "The session establishment failed due to the number of simultaneous "
                        "sessions exceeding the limit of the implementation.",
                        {},
                        "Critical",
                        "Reduce the number of other sessions before trying to establish the "
                        "session or increase the limit of simultaneous sessions (if supported)."});
  }
  Session s;
  s.id = fmt::format("{:x}{}", b.next_session++, random_token(8));
  s.token = random_token(32);
  s.user = cfg_.username;
  s.last_used = Clock::now();
  b.sessions.push_back(s);
  event(bi, -1, json::object{{"event", "session"}, {"action", "create"}, {"id", s.id}});
  std::string loc = b.pers->sessions_path + "/" + s.id;
  Reply r = json_reply(201, json::serialize(json::object{{"@odata.id", loc},
                                                         {"@odata.type", "#Session.v1_3_0.Session"},
                                                         {"Id", s.id},
                                                         {"Name", "User Session"},
                                                         {"UserName", s.user}}));
  r.headers.emplace_back("X-Auth-Token", s.token);
  r.headers.emplace_back("Location", loc);
  return r;
}

Reply Sim::logout(std::size_t bi, const std::string& id) {
  Bmc& b = bmcs_[bi];
  for (std::size_t i = 0; i < b.sessions.size(); ++i)
    if (b.sessions[i].id == id) {
      b.sessions.erase(b.sessions.begin() + static_cast<long>(i));
      event(bi, -1, json::object{{"event", "session"}, {"action", "delete"}, {"id", id}});
      Reply r;
      r.status = 204;
      r.is_json = false;
      return r;
    }
  return not_found(b.pers->sessions_path + "/" + id);
}

Reply Sim::sessions_collection(Bmc& b) {
  purge_sessions(b);
  json::array m;
  for (const auto& s : b.sessions)
    m.push_back(json::object{{"@odata.id", b.pers->sessions_path + "/" + s.id}});
  return json_reply(
      200, json::serialize(json::object{{"@odata.id", b.pers->sessions_path},
                                        {"@odata.type", "#SessionCollection.SessionCollection"},
                                        {"Name", "Session Collection"},
                                        {"Members@odata.count", m.size()},
                                        {"Members", std::move(m)}}));
}

Reply Sim::session_get(Bmc& b, const std::string& id) {
  for (const auto& s : b.sessions)
    if (s.id == id)
      return json_reply(
          200, json::serialize(json::object{{"@odata.id", b.pers->sessions_path + "/" + s.id},
                                            {"@odata.type", "#Session.v1_3_0.Session"},
                                            {"Id", s.id},
                                            {"Name", "User Session"},
                                            {"UserName", s.user}}));
  return not_found(b.pers->sessions_path + "/" + id);
}

std::string Sim::etag(std::size_t bi, std::size_t si) const {
  const SysState& st = bmcs_[bi].sys[si];
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint64_t v : {static_cast<std::uint64_t>(bi), static_cast<std::uint64_t>(si),
                          static_cast<std::uint64_t>(st.version)}) {
    h ^= v;
    h *= 1099511628211ull;
  }
  return fmt::format("W/\"{:08X}\"", static_cast<std::uint32_t>(h ^ (h >> 32)));
}

Reply Sim::system_get(std::size_t bi, std::size_t si) {
  const Bmc& b = bmcs_[bi];
  const SysState& st = b.sys[si];
  const SystemTemplate& t = b.pers->systems[si];
  json::object o = t.base;
  o["PowerState"] = power_str(st.power);
  if (t.has_boot) {
    auto& boot = o["Boot"].as_object();
    boot["BootSourceOverrideTarget"] = st.boot_target;
    boot["BootSourceOverrideEnabled"] = st.boot_enabled;
    if (!st.boot_mode.empty()) boot["BootSourceOverrideMode"] = st.boot_mode;
  }
  if (t.has_indicator_led) o["IndicatorLED"] = st.led;
  if (t.has_location_indicator) o["LocationIndicatorActive"] = st.locate;
  std::string tag = etag(bi, si);
  o["@odata.etag"] = tag;
  if ((b.faults.badlist || b.pers->malformed_reset_list) && !t.reset_target.empty()) {
    // A malformed list, as some firmware publishes: one string instead of an array, no ActionInfo.
    std::string joined;
    for (const auto& v : t.reset_allowed) joined += (joined.empty() ? "" : " ") + v;
    o["Actions"] = json::object{
        {"#ComputerSystem.Reset",
         json::object{{"target", t.reset_target}, {"ResetType@Redfish.AllowableValues", joined}}}};
  }
  if (settings_on(bi) && t.has_boot)
    o["@Redfish.Settings"] =
        json::object{{"@odata.type", "#Settings.v1_3_0.Settings"},
                     {"SettingsObject", json::object{{"@odata.id", t.path + settings_suffix(bi)}}},
                     {"SupportedApplyTimes", json::array{"Immediate"}}};
  Reply r = json_reply(200, json::serialize(o));
  r.headers.emplace_back("ETag", tag);
  return r;
}

Reply Sim::settings_get(std::size_t bi, std::size_t si) {
  const Bmc& b = bmcs_[bi];
  const SysState& st = b.sys[si];
  const SystemTemplate& t = b.pers->systems[si];
  json::object boot{{"BootSourceOverrideTarget", st.boot_target},
                    {"BootSourceOverrideEnabled", st.boot_enabled}};
  if (!st.boot_mode.empty()) boot["BootSourceOverrideMode"] = st.boot_mode;
  std::string tag = etag(bi, si);
  Reply r = json_reply(
      200, json::serialize(json::object{{"@odata.id", t.path + settings_suffix(bi)},
                                        {"@odata.type", "#ComputerSystem.v1_16_0.ComputerSystem"},
                                        {"@odata.etag", tag},
                                        {"Id", settings_suffix(bi).substr(1)},
                                        {"Name", "Pending settings of " + t.id},
                                        {"Boot", std::move(boot)}}));
  r.headers.emplace_back("ETag", tag);
  return r;
}

Reply Sim::system_patch(std::size_t bi, std::size_t si, const Request& req, bool via_settings) {
  Bmc& b = bmcs_[bi];
  SysState& st = b.sys[si];
  const SystemTemplate& t = b.pers->systems[si];
  std::string tag = etag(bi, si);
  auto im = req.find(http::field::if_match);
  const std::string& mode = b.faults.etag_mode;
  // Every refused PATCH is an event: a quirk's wrong usage is visible in events.jsonl.
  auto rej = [&](const std::string& why, Reply r) {
    event(bi, static_cast<int>(si),
          json::object{{"event", "patch"},
                       {"result", "rejected"},
                       {"reason", why},
                       {"status", r.status},
                       {"via", via_settings ? "settings" : "system"}});
    return r;
  };
  if (mode != "none") {
    if (im == req.end()) {
      if (mode == "required" || b.pers->require_if_match)
        return rej("if_match_required", error_reply(
            428, {"PreconditionRequired",
                  "A precondition header or annotation is required to change the resource.",
                  {},
                  "Critical",
                  "Try the request again with the If-Match header."}));
    } else {
      std::string v(im->value());
      std::string strong = tag.substr(2);  // without W/
      bool ok = v == "*" || (mode == "strong" ? v == strong : v == tag);
      if (!ok) {
        event(bi, static_cast<int>(si),
              json::object{{"event", "patch"}, {"result", "precondition_failed"}, {"if_match", v}});
        return error_reply(
            412, {"PreconditionFailed",
                  "The ETag supplied did not match the ETag required to change this resource.",
                  {},
                  "Critical",
                  "Try the operation again using the appropriate ETag."});
      }
    }
  }
  json::value body;
  if (!parse_body(req, &body) || !body.is_object()) return malformed_json();
  std::string nt = st.boot_target, ne = st.boot_enabled, nm = st.boot_mode, nled = st.led;
  bool nloc = st.locate;
  bool boot_changed = false, led_changed = false;
  auto bad_value = [&](const std::string& prop, const std::string& val) {
    return rej("not_in_list:" + prop + "=" + val, error_reply(400, {"PropertyValueNotInList",
                             "The value '" + val + "' for the property " + prop +
                                 " is not in the list of acceptable values.",
                             {val, prop},
                             "Warning",
                             "Choose a value from the enumeration list that the implementation can "
                             "support and resubmit the request if the operation failed."}));
  };
  auto unknown = [&](const std::string& prop) {
    return rej("unknown:" + prop, error_reply(
        400, {"PropertyUnknown",
              "The property " + prop + " is not in the list of valid properties for the resource.",
              {prop},
              "Warning",
              "Remove the unknown property from the request body and resubmit the request if the "
              "operation failed."}));
  };
  auto type_err = [&](const std::string& prop) {
    return rej("type:" + prop, error_reply(400, {"PropertyValueTypeError",
                             "The value for the property " + prop +
                                 " is of a different type than the property can accept.",
                             {"", prop},
                             "Warning",
                             "Correct the value for the property in the request body and resubmit "
                             "the request if the operation failed."}));
  };
  for (const auto& kv : body.as_object()) {
    std::string k(kv.key());
    const json::value& v = kv.value();
    if (k == "Boot" && t.has_boot) {
      if (settings_on(bi) && !via_settings) {
        if (!b.pers->settings_error_id.empty())
          // AMI MegaRAC's own answer (MessageId Ami.1.0.OperationSupportedInFutureStateURI).
          return rej("settings_only",
                     error_reply(400, {b.pers->settings_error_id,
                                       "Support of this Operation for Boot Properties is moved "
                                       "to FutureState URI(" +
                                           t.path + settings_suffix(bi) + ")",
                                       {t.path + settings_suffix(bi)},
                                       "Warning",
                                       "PATCH the boot properties on the FutureState URI."}));
        return rej("settings_only",
                   error_reply(400, {"PropertyNotWritable",
                                     "The property Boot is a read-only property and cannot be "
                                     "assigned a value; change it through the @Redfish.Settings "
                                     "object " +
                                         t.path + settings_suffix(bi) + ".",
                                     {"Boot"},
                                     "Warning",
                                     "Remove the property from the request body and resubmit the "
                                     "request if the operation failed."}));
      }
      if (!v.is_object()) return type_err("Boot");
      if (b.pers->boot_mode_required && !v.as_object().contains("BootSourceOverrideMode"))
        // Supermicro: a Boot PATCH must echo BootSourceOverrideMode.
        return rej("missing:Boot/BootSourceOverrideMode",
                   error_reply(400, {"PropertyMissing",
                                     "The property BootSourceOverrideMode is a required property "
                                     "and must be included in the request.",
                                     {"BootSourceOverrideMode"},
                                     "Warning",
                                     "Ensure that the property is in the request body and has a "
                                     "valid value and resubmit the request if the operation "
                                     "failed."}));
      const auto& base_boot = t.base.at("Boot").as_object();
      for (const auto& bk : v.as_object()) {
        std::string key(bk.key());
        if (key == "BootSourceOverrideTarget") {
          if (!bk.value().is_string()) return type_err("Boot/" + key);
          std::string s(bk.value().as_string());
          if (!t.boot_targets.empty() &&
              std::find(t.boot_targets.begin(), t.boot_targets.end(), s) == t.boot_targets.end())
            return bad_value("Boot/" + key, s);
          nt = s;
          boot_changed = true;
        } else if (key == "BootSourceOverrideEnabled") {
          if (!bk.value().is_string()) return type_err("Boot/" + key);
          std::string s(bk.value().as_string());
          if (s != "Once" && s != "Continuous" && s != "Disabled")
            return bad_value("Boot/" + key, s);
          // Lenovo XCC lists Once and Disabled only: Continuous is refused.
          if (!t.boot_enabled_allowed.empty() &&
              std::find(t.boot_enabled_allowed.begin(), t.boot_enabled_allowed.end(), s) ==
                  t.boot_enabled_allowed.end())
            return bad_value("Boot/" + key, s);
          ne = s;
          boot_changed = true;
        } else if (key == "BootSourceOverrideMode") {
          if (!bk.value().is_string()) return type_err("Boot/" + key);
          std::string s(bk.value().as_string());
          if (s != "UEFI" && s != "Legacy") return bad_value("Boot/" + key, s);
          nm = s;
          boot_changed = true;
        } else if (!base_boot.contains(key)) {
          return unknown("Boot/" + key);
        }
      }
    } else if (via_settings) {
      return unknown(k);
    } else if (k == "IndicatorLED" && t.has_indicator_led) {
      if (!v.is_string()) return type_err(k);
      std::string s(v.as_string());
      if (s != "Lit" && s != "Blinking" && s != "Off") return bad_value(k, s);
      nled = s;
      led_changed = true;
    } else if (k == "LocationIndicatorActive" && t.has_location_indicator) {
      if (!v.is_bool()) return type_err(k);
      nloc = v.as_bool();
      led_changed = true;
    } else if (k == "AssetTag" || k == "@odata.etag") {
      // accepted, not modelled
    } else {
      return unknown(k);
    }
  }
  st.boot_target = nt;
  st.boot_enabled = ne;
  st.boot_mode = nm;
  st.led = nled;
  st.locate = nloc;
  ++st.version;
  if (boot_changed)
    event(bi, static_cast<int>(si),
          json::object{{"event", "boot"},
                       {"target", nt},
                       {"enabled", ne},
                       {"mode", nm},
                       {"via", via_settings ? "settings" : "system"}});
  if (led_changed)
    event(bi, static_cast<int>(si),
          json::object{{"event", "identify"},
                       {"value", t.has_indicator_led ? json::value(nled) : json::value(nloc)}});
  Reply r;
  if (b.pers->hpe_envelope) {
    r = json_reply(200, hpe_success_body());
  } else {
    r.status = 204;
    r.is_json = false;
  }
  r.headers.emplace_back("ETag", etag(bi, si));
  return r;
}

json::object Sim::task_json(const Bmc& b, const Task& t) const {
  bool done = Clock::now() >= t.done;
  json::object o{{"@odata.id", fmt::format("/redfish/v1/TaskService/Tasks/{}", t.id)},
                 {"@odata.type", "#Task.v1_4_3.Task"},
                 {"Id", std::to_string(t.id)},
                 {"Name", "Reset " + b.pers->systems[t.sys].id + ": " + t.reset_type},
                 {"TaskState", done ? "Completed" : "Running"},
                 {"TaskStatus", "OK"},
                 {"StartTime", t.start_iso},
                 {"TaskMonitor", fmt::format("/redfish/v1/TaskService/TaskMonitors/{}", t.id)},
                 {"PercentComplete", done ? 100 : 50}};
  if (done)
    o["Messages"] = json::array{
        message_obj({"Success", "The request completed successfully.", {}, "OK", "None"})};
  return o;
}

Reply Sim::task_get(Bmc& b, std::uint32_t id, bool monitor) {
  for (const auto& t : b.tasks)
    if (t.id == id) {
      bool done = Clock::now() >= t.done;
      Reply r = json_reply(monitor && !done ? 202 : 200, json::serialize(task_json(b, t)));
      if (monitor && !done) {
        r.headers.emplace_back("Location",
                               fmt::format("/redfish/v1/TaskService/TaskMonitors/{}", id));
        r.headers.emplace_back("Retry-After", "1");
      }
      return r;
    }
  return not_found(
      fmt::format("/redfish/v1/TaskService/{}/{}", monitor ? "TaskMonitors" : "Tasks", id));
}

Reply Sim::reset(std::size_t bi, std::size_t si, const Request& req) {
  Bmc& b = bmcs_[bi];
  const SystemTemplate& t = b.pers->systems[si];
  json::value body;
  if (!parse_body(req, &body) || !body.is_object()) return malformed_json();
  auto* rt = body.as_object().if_contains("ResetType");
  auto reject = [&](const std::string& why, Reply r) {
    event(bi, static_cast<int>(si),
          json::object{{"event", "reset"},
                       {"result", "rejected"},
                       {"reason", why},
                       {"power", power_str(b.sys[si].power)}});
    return r;
  };
  if (!rt)
    return reject("missing",
                  error_reply(400, {"ActionParameterMissing",
                                    "The action ComputerSystem.Reset requires the parameter "
                                    "ResetType to be present in the request body.",
                                    {"ComputerSystem.Reset", "ResetType"},
                                    "Critical",
                                    "Supply the action with the required parameter in the request "
                                    "body when the request is resubmitted."}));
  if (!rt->is_string())
    return reject(
        "type",
        error_reply(400,
                    {"ActionParameterValueTypeError",
                     "The value for the parameter ResetType in the action ComputerSystem.Reset is "
                     "of a different type than the parameter can accept.",
                     {json::serialize(*rt), "ResetType", "ComputerSystem.Reset"},
                     "Warning",
                     "Correct the value for the parameter in the request body and resubmit the "
                     "request if the operation failed."}));
  std::string type(rt->as_string());
  if (std::find(t.reset_allowed.begin(), t.reset_allowed.end(), type) == t.reset_allowed.end() &&
      b.pers->reject_id == "ActionParameterUnknown")
    // bmcweb (OpenBMC) answers a ResetType it does not implement this way.
    return reject("not_allowed:" + type,
                  error_reply(400, {"ActionParameterUnknown",
                                    "The action Reset was submitted with the invalid parameter " +
                                        type + ".",
                                    {"Reset", type},
                                    "Warning",
                                    "Correct the invalid parameter and resubmit the request if "
                                    "the operation failed."}));
  if (std::find(t.reset_allowed.begin(), t.reset_allowed.end(), type) == t.reset_allowed.end())
    return reject(
        "not_allowed:" + type,
        error_reply(400, {"ActionParameterValueNotInList",
                          "The value '" + type +
                              "' for the parameter ResetType in the action ComputerSystem.Reset is "
                              "not in the list of acceptable values.",
                          {type, "ResetType", "ComputerSystem.Reset"},
                          "Warning",
                          "Choose a value from the enumeration list that the implementation can "
                          "support and resubmit the request if the operation failed."}));
  Power before = b.sys[si].power;
  if (b.faults.strict_state || b.pers->strict_state) {
    bool up = before == Power::On || before == Power::PoweringOn;
    bool noop = ((type == "On" || type == "ForceOn") && up) ||
                ((type == "ForceOff" || type == "GracefulShutdown") && before == Power::Off);
    if (noop)
      return reject(
          "state:" + type,
          error_reply(400,
                      {"iLO.2.15.InvalidOperationForSystemState",
                       "The operation " + type + " is not allowed while the system is " +
                           power_str(before) + ".",
                       {type, power_str(before)},
                       "Warning",
                       "Check the power state of the system before resubmitting the request."}));
  }
  event(bi, static_cast<int>(si),
        json::object{{"event", "reset"},
                     {"reset_type", type},
                     {"result", b.faults.ignore_reset ? "ignored" : "accepted"},
                     {"power", power_str(before)}});
  if (!b.faults.ignore_reset) apply_reset(bi, si, type);
  if (b.faults.tasks) {
    Task tk;
    tk.id = b.next_task++;
    tk.sys = si;
    tk.reset_type = type;
    tk.done = b.faults.ignore_reset ? Clock::now() : b.sys[si].settle;
    tk.start_iso = iso_now(nullptr);
    b.tasks.push_back(tk);
    while (b.tasks.size() > 32) b.tasks.pop_front();
    Reply r = json_reply(202, json::serialize(task_json(b, tk)));
    r.headers.emplace_back("Location",
                           fmt::format("/redfish/v1/TaskService/TaskMonitors/{}", tk.id));
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (b.pers->hpe_envelope) return json_reply(200, hpe_success_body());
  Reply r;
  r.status = 204;
  r.is_json = false;
  return r;
}

/// iLO's OEM power button: POST {"PushType": "Press"|"PressAndHold"}.  Press acts like the
/// front-panel button (graceful off when on, on when off); PressAndHold forces the power off.
Reply Sim::oem_button(std::size_t bi, std::size_t si, const Request& req) {
  Bmc& b = bmcs_[bi];
  json::value body;
  if (!parse_body(req, &body) || !body.is_object()) return malformed_json();
  auto* pt = body.as_object().if_contains("PushType");
  auto reject = [&](const std::string& why, Reply r) {
    event(bi, static_cast<int>(si),
          json::object{{"event", "reset"},
                       {"via", "oem"},
                       {"result", "rejected"},
                       {"reason", why},
                       {"power", power_str(b.sys[si].power)}});
    return r;
  };
  if (!pt)
    return reject("missing", error_reply(400, {"ActionParameterMissing",
                                               "The action PowerButton requires the parameter "
                                               "PushType to be present in the request body.",
                                               {"PowerButton", "PushType"},
                                               "Critical",
                                               "Supply the action with the required parameter."}));
  std::string type = pt->is_string() ? std::string(pt->as_string()) : json::serialize(*pt);
  if (type != "Press" && type != "PressAndHold")
    return reject("not_allowed:" + type,
                  error_reply(400, {"ActionParameterValueNotInList",
                                    "The value '" + type +
                                        "' for the parameter PushType in the action PowerButton "
                                        "is not in the list of acceptable values.",
                                    {type, "PushType", "PowerButton"},
                                    "Warning",
                                    "Choose Press or PressAndHold."}));
  Power before = b.sys[si].power;
  event(bi, static_cast<int>(si),
        json::object{{"event", "reset"},
                     {"via", "oem"},
                     {"reset_type", "Oem.PowerButton." + type},
                     {"result", "accepted"},
                     {"power", power_str(before)}});
  if (type == "Press")
    apply_reset(bi, si, "PushPowerButton");
  else if (before != Power::Off)
    apply_reset(bi, si, "ForceOff");
  if (b.pers->hpe_envelope) return json_reply(200, hpe_success_body());
  Reply r;
  r.status = 204;
  r.is_json = false;
  return r;
}

Millis reply_delay(const Faults& f) {
  if (f.latency_max <= f.latency) return f.latency;
  static std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> d(f.latency.count(), f.latency_max.count());
  return Millis(d(rng));
}

bool wants_expand(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view qs = target.substr(q + 1);
  return qs.find("$expand=") != std::string_view::npos ||
         qs.find("%24expand=") != std::string_view::npos;
}

/// $expand, one level: a collection's Members references become the members themselves (the
/// live System for systems).  Only for trees whose root advertises ExpandQuery.
void Sim::expand_members(std::size_t bi, Reply* r) {
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return;
  auto* members = v.as_object().if_contains("Members");
  if (!members || !members->is_array() || members->as_array().size() > 1024) return;
  const Personality& p = *bmcs_[bi].pers;
  for (auto& m : members->as_array()) {
    if (!m.is_object()) continue;
    auto* id = m.as_object().if_contains("@odata.id");
    if (!id || !id->is_string()) continue;
    std::string path = normalize_path(std::string(id->as_string()));
    std::string body;
    if (auto it = p.system_paths.find(path); it != p.system_paths.end())
      body = system_get(bi, it->second).body;
    else if (auto it2 = p.raw.find(path); it2 != p.raw.end())
      body = it2->second;
    if (body.empty()) continue;
    json::value mv = json::parse(body, ec);
    if (!ec && mv.is_object()) m = std::move(mv);
  }
  r->body = json::serialize(v);
}

Reply Sim::handle(std::size_t bi, const Request& req, const std::string& remote) {
  (void)remote;
  Bmc& b = bmcs_[bi];
  const Personality& p = *b.pers;
  ++b.requests;
  bool faulty = b.faults.times < 0 || b.requests <= b.faults.times;
  Reply pre;
  if (faulty) {
    if (b.faults.hang) {
      pre.mode = Reply::Mode::Hang;
      return pre;
    }
    if (b.faults.reset) {
      pre.mode = Reply::Mode::Reset;
      return pre;
    }
    if (b.faults.busy_retry_after >= 0) {
      Reply r = error_reply(
          503, {"ServiceTemporarilyUnavailable",
                fmt::format("The service is temporarily unavailable.  Retry in {} seconds.",
                            b.faults.busy_retry_after),
                {std::to_string(b.faults.busy_retry_after)},
                "Critical",
                "Wait for the indicated retry duration and retry the operation."});
      r.headers.emplace_back("Retry-After", std::to_string(b.faults.busy_retry_after));
      r.delay = reply_delay(b.faults);
      return r;
    }
    if (b.faults.http_status) {
      Reply r = error_reply(
          static_cast<unsigned>(b.faults.http_status),
          {"InternalError",
           "The request failed due to an internal service error.  The service is still "
           "operational.",
           {},
           "Critical",
           "Resubmit the request.  If the problem persists, consider resetting the service."});
      r.delay = reply_delay(b.faults);
      return r;
    }
  }
  std::string path = normalize_path(req.target());
  if (path.size() > 2048) return not_found(path.substr(0, 64));
  auto method = req.method();
  std::string mstr(req.method_string());
  // Opt-in (tests): every GET in events.jsonl, to count discovery and detection requests.
  static const bool log_gets = [] {
    const char* e = std::getenv("FLEETPOWER_SIM_LOG_GETS");
    return e && *e == '1';
  }();
  if (log_gets && method == http::verb::get) event(bi, -1, json::object{{"event", "get"}, {"path", path}});
  Reply r;
  bool done = false;
  // Public resources.
  if (method == http::verb::get && (path == "/redfish")) {
    r = json_reply(200, R"({"v1":"/redfish/v1/"})");
    done = true;
  } else if (method == http::verb::get && (path == "/redfish/v1" || path == "/redfish/v1/odata" ||
                                           path == "/redfish/v1/$metadata")) {
    auto it = p.raw.find(path);
    r = it == p.raw.end() ? not_found(path) : json_reply(200, it->second);
    done = true;
  } else if (method == http::verb::post && path == p.sessions_path) {
    if (faulty && b.faults.unauth)
      r = unauthorized(false);
    else
      r = login(bi, req);
    done = true;
  }
  if (!done) {
    std::string user;
    if ((faulty && b.faults.unauth) || !authenticate(b, req, &user)) {
      r = unauthorized(!b.faults.nobasic);
    } else if (method == http::verb::get || method == http::verb::head) {
      if (auto it = p.system_paths.find(path); it != p.system_paths.end()) {
        r = system_get(bi, it->second);
      } else if (auto si = settings_index(bi, path); si >= 0) {
        r = settings_get(bi, static_cast<std::size_t>(si));
      } else if (auto ci = p.chassis_paths.find(path); ci != p.chassis_paths.end()) {
        r = chassis_get(bi, ci->second, path);
      } else if (auto pi = chassis_sub(bi, path, "/Power"); pi >= 0) {
        const std::string& m = b.power_res;
        auto s2 = static_cast<std::size_t>(pi);
        if (m == "power" || m == "both" || m == "null")
          r = json_reply(200, json::serialize(power_resource_json(
                                  path, m == "null" ? std::nullopt : std::optional<double>(reading(bi, s2)),
                                  b.watts_on[s2])));
        else
          r = not_found(path);
      } else if (auto ei = chassis_sub(bi, path, "/EnvironmentMetrics"); ei >= 0) {
        const std::string& m = b.power_res;
        if (m == "env" || m == "both")
          r = json_reply(200, json::serialize(environment_metrics_json(
                                  path, reading(bi, static_cast<std::size_t>(ei)))));
        else
          r = not_found(path);
      } else if (b.power_res == "subsystem" && power_subsystem_get(bi, path, &r)) {
      } else if (path == p.sessions_path) {
        r = sessions_collection(b);
      } else if (path.rfind(p.sessions_path + "/", 0) == 0) {
        r = session_get(b, path.substr(p.sessions_path.size() + 1));
      } else if (path.rfind("/redfish/v1/TaskService/TaskMonitors/", 0) == 0 ||
                 path.rfind("/redfish/v1/TaskService/Tasks/", 0) == 0) {
        bool mon = path.rfind("/redfish/v1/TaskService/TaskMonitors/", 0) == 0;
        std::string ids = path.substr(path.rfind('/') + 1);
        std::uint32_t id = 0;
        auto res = std::from_chars(ids.data(), ids.data() + ids.size(), id);
        if (res.ec == std::errc() && res.ptr == ids.data() + ids.size())
          r = task_get(b, id, mon);
        else if (auto it2 = p.raw.find(path); it2 != p.raw.end())
          r = json_reply(200, it2->second);
        else
          r = not_found(path);
      } else if (auto it2 = p.raw.find(path); it2 != p.raw.end()) {
        r = json_reply(200, it2->second);
      } else {
        r = not_found(path);
      }
    } else if (method == http::verb::post) {
      if (auto it = p.reset_targets.find(path); it != p.reset_targets.end())
        r = reset(bi, it->second, req);
      else if (auto ob = p.oem_button_targets.find(path); ob != p.oem_button_targets.end())
        r = oem_button(bi, ob->second, req);
      else if (p.raw.count(path) || p.system_paths.count(path))
        r = method_not_allowed(mstr, path);
      else
        r = not_found(path);
    } else if (method == http::verb::patch) {
      if (auto it = p.system_paths.find(path); it != p.system_paths.end())
        r = system_patch(bi, it->second, req, false);
      else if (auto si = settings_index(bi, path); si >= 0)
        r = system_patch(bi, static_cast<std::size_t>(si), req, true);
      else if (p.raw.count(path))
        r = method_not_allowed(mstr, path);
      else
        r = not_found(path);
    } else if (method == http::verb::delete_) {
      if (path.rfind(p.sessions_path + "/", 0) == 0)
        r = logout(bi, path.substr(p.sessions_path.size() + 1));
      else if (p.raw.count(path) || p.system_paths.count(path))
        r = method_not_allowed(mstr, path);
      else
        r = not_found(path);
    } else {
      r = method_not_allowed(mstr, path);
    }
  }
  if (r.status == 200 && p.expand && (method == http::verb::get) && wants_expand(req.target()))
    expand_members(bi, &r);
  if (faulty) {
    r.delay = reply_delay(b.faults);
    if (b.faults.garbage && r.is_json && !r.body.empty()) {
      // Cut the document short and append junk: not parseable JSON.
      r.body = r.body.substr(0, r.body.size() / 2) + "\",,}{\x01garbage";
    }
    if (b.faults.trickle.count()) {
      r.trickle = b.faults.trickle;
      r.trickle_chunk = b.faults.trickle_chunk;
    }
    // Trailing whitespace keeps the document valid JSON: only its size is wrong.
    if (b.faults.huge && r.body.size() < b.faults.huge) r.body.append(b.faults.huge - r.body.size(), ' ');
    if (b.faults.headers_hang) r.cut = Reply::Cut::HeadersHang;
    if (b.faults.truncate) r.cut = Reply::Cut::Truncate;
    // The request has been carried out (a Reset POST changed the power): only the reply is lost.
    // Only actions (POST/PATCH, not the session login).
    if (b.faults.reset_after && (method == http::verb::post || method == http::verb::patch) &&
        path != p.sessions_path)
      r.mode = Reply::Mode::Reset;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Control FIFO: one command per line.
//   fault SPEC            same syntax as --faults (rules merge; "N:none" clears)
//   power N[/SYSID] On|Off   set a system's power state directly (recorded as cause "control")
//   sessions-clear N|*    drop every session of BMC N
//   dump                  write state.json

void Sim::start_control() {
  std::string path = cfg_.state_dir + "/control";
  ::unlink(path.c_str());
  if (::mkfifo(path.c_str(), 0600) != 0) return;
  int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  control_ = std::make_unique<asio::posix::stream_descriptor>(ioc_, fd);
  read_control();
}

void Sim::read_control() {
  asio::async_read_until(*control_, control_buf_, '\n', [this](error_code ec, std::size_t n) {
    if (ec == asio::error::not_found) {  // over-long line: drop it
      control_buf_.consume(control_buf_.size());
      read_control();
      return;
    }
    if (ec) return;
    std::string line(asio::buffers_begin(control_buf_.data()),
                     asio::buffers_begin(control_buf_.data()) + static_cast<long>(n));
    control_buf_.consume(n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) control_command(line);
    read_control();
  });
}

void Sim::control_command(const std::string& line) {
  std::istringstream is(line);
  std::string cmd;
  is >> cmd;
  std::string rest;
  std::getline(is, rest);
  while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  std::string err;
  bool ok = true;
  if (cmd == "fault" || cmd == "faults") {
    std::vector<FaultRule> rules;
    ok = parse_faults(rest, &rules, &err);
    if (ok) apply_rules(rules, false);
  } else if (cmd == "power") {
    std::istringstream rs(rest);
    std::string who, state;
    rs >> who >> state;
    std::string sysid;
    if (auto sl = who.find('/'); sl != std::string::npos) {
      sysid = who.substr(sl + 1);
      who = who.substr(0, sl);
    }
    std::size_t n = 0;
    auto res = std::from_chars(who.data(), who.data() + who.size(), n);
    ok = res.ec == std::errc() && n >= 1 && n <= bmcs_.size() && (state == "On" || state == "Off");
    if (ok) {
      Bmc& b = bmcs_[n - 1];
      for (std::size_t s = 0; s < b.sys.size(); ++s)
        if (sysid.empty() || b.pers->systems[s].id == sysid) {
          b.sys[s].then_on = false;
          power_set(n - 1, s, state == "On" ? Power::On : Power::Off, "control");
        }
    } else {
      err = "usage: power N[/SYSID] On|Off";
    }
  } else if (cmd == "sessions-clear") {
    for (std::size_t i = 0; i < bmcs_.size(); ++i)
      if (rest == "*" || rest == std::to_string(i + 1)) bmcs_[i].sessions.clear();
  } else if (cmd == "dump") {
    write_state();
  } else {
    ok = false;
    err = "unknown command";
  }
  json::object e{{"event", "control"}, {"command", line.substr(0, 512)}, {"ok", ok}};
  if (!ok) e["error"] = err;
  event(static_cast<std::size_t>(-1), -1, std::move(e));
}

// ---------------------------------------------------------------------------------------------

int Sim::run() {
  std::string err;
  auto t0 = Clock::now();
  if (!setup(&err) || !listen_all(&err) || !write_inventory(&err) || !write_credentials(&err) ||
      !write_bmcs_table(&err)) {
    std::fprintf(stderr, "fleetpower-sim: %s\n", err.c_str());
    return 1;
  }
  start_control();
  write_state();
  event(static_cast<std::size_t>(-1), -1,
        json::object{
            {"event", "start"}, {"bmcs", bmcs_.size()}, {"pid", static_cast<long>(::getpid())}});
  asio::signal_set sigs(ioc_, SIGTERM, SIGINT);
  sigs.async_wait([this](error_code ec, int) {
    if (ec) return;
    for (auto& b : bmcs_)
      if (b.acceptor) {
        error_code ig;
        b.acceptor->close(ig);
      }
    write_state();
    event(static_cast<std::size_t>(-1), -1, json::object{{"event", "stop"}});
    ioc_.stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  if (!cfg_.quiet)
    std::fprintf(
        stderr, "fleetpower-sim: %zu BMCs (%s) listening in %lld ms; state in %s\n", bmcs_.size(),
        cfg_.http ? "http" : "https",
        static_cast<long long>(std::chrono::duration_cast<Millis>(Clock::now() - t0).count()),
        cfg_.state_dir.c_str());
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  // Handlers do not throw by design; should one (allocation failure), log it and keep serving
  // the rest of the fleet rather than take every BMC down.
  for (;;) {
    try {
      ioc_.run();
      break;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fleetpower-sim: handler error: %s\n", e.what());
    }
  }
  if (events_) std::fclose(events_);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Connections

template <class Stream>
class Conn : public std::enable_shared_from_this<Conn<Stream>> {
 public:
  Conn(Sim& sim, std::size_t bi, Stream&& s)
      : sim_(sim), alive_(sim.alive_token()), bi_(bi), stream_(std::move(s)), timer_(sim.ioc()) {
    ++sim_.bmc(bi_).conns;
    ++sim_.total_conns();
  }
  ~Conn() {
    if (alive_.expired()) return;  // the simulator is shutting down
    --sim_.bmc(bi_).conns;
    --sim_.total_conns();
  }

  void start() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    error_code ec;
    sock.set_option(tcp::no_delay(true), ec);
    auto rep = sock.remote_endpoint(ec);
    if (!ec) remote_ = rep.address().to_string();
    const Faults& f = sim_.bmc(bi_).faults;
    if (f.blackhole) {
      blackhole();
      return;
    }
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      SSL* ssl = stream_.native_handle();
      SSL_use_certificate(ssl, static_cast<X509*>(cert_x509(*sim_.certs(), bi_)));
      SSL_use_PrivateKey(ssl, static_cast<EVP_PKEY*>(cert_key(*sim_.certs(), bi_)));
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code e) {
                                if (e) return self->close_hard();
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

 private:
  void blackhole() {
    beast::get_lowest_layer(stream_).expires_after(sim_.cfg().hang_timeout);
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(scratch_), [self = this->shared_from_this()](error_code e, std::size_t) {
          if (e) return self->close_hard();
          self->blackhole();
        });
  }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(1024 * 1024);
    beast::get_lowest_layer(stream_).expires_after(sim_.cfg().idle_timeout);
    http::async_read(
        stream_, buf_, *parser_,
        [self = this->shared_from_this()](error_code e, std::size_t) { self->on_read(e); });
  }

  void on_read(error_code ec) {
    if (ec == http::error::end_of_stream) return shutdown();
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit ||
          ec.category() == http::make_error_code(http::error::bad_method).category()) {
        // A malformed or oversized request: answer 400/413 and close.
        Reply r = error_reply(ec == http::error::body_limit ? 413 : 400,
                              {"GeneralError",
                               "The request could not be parsed: " + ec.message(),
                               {},
                               "Critical",
                               ""});
        r.close = true;
        return send(std::move(r), 11, false);
      }
      return close_hard();
    }
    const auto& req = parser_->get();
    bool keep = req.keep_alive();
    unsigned version = req.version();
    bool head = req.method() == http::verb::head;
    Reply r = sim_.handle(bi_, req, remote_);
    if (r.mode == Reply::Mode::Hang) return hang();
    if (r.mode == Reply::Mode::Reset) return reset_conn();
    if (head) r.body.clear();
    if (!keep) r.close = true;
    if (r.delay.count() > 0) {
      timer_.expires_after(r.delay);
      timer_.async_wait(
          [self = this->shared_from_this(), r = std::move(r), version](error_code e) mutable {
            if (e) return;
            self->send(std::move(r), version, true);
          });
      return;
    }
    send(std::move(r), version, true);
  }

  void send(Reply r, unsigned version, bool keep_possible) {
    res_.emplace();
    auto& res = *res_;
    res.version(version);
    res.result(r.status);
    res.set(http::field::server, "fleetpower-sim");
    res.set("OData-Version", "4.0");
    if (r.is_json && !r.body.empty())
      res.set(http::field::content_type, "application/json; charset=utf-8");
    for (auto& h : r.headers) res.set(h.first, h.second);
    res.body() = std::move(r.body);
    res.keep_alive(keep_possible && !r.close);
    res.prepare_payload();
    if (r.cut != Reply::Cut::None) {
      std::ostringstream os;
      os << res;
      wire_ = os.str();
      auto hdr_end = wire_.find("\r\n\r\n");
      std::size_t head = hdr_end == std::string::npos ? wire_.size() : hdr_end + 4;
      std::size_t body = wire_.size() - head;
      wire_.resize(r.cut == Reply::Cut::HeadersHang ? head : head + body / 2);
      const bool then_hang = r.cut == Reply::Cut::HeadersHang;
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      asio::async_write(stream_, asio::buffer(wire_),
                        [self = this->shared_from_this(), then_hang](error_code e, std::size_t) {
                          if (e) return self->close_hard();
                          if (then_hang) return self->hang();
                          self->shutdown();
                        });
      return;
    }
    if (r.trickle.count() > 0) {
      std::ostringstream os;
      os << res;
      wire_ = os.str();
      wire_pos_ = 0;
      trickle_ = r.trickle;
      chunk_ = r.trickle_chunk;
      return trickle_next();
    }
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, res, [self = this->shared_from_this()](error_code e, std::size_t) {
      self->after_write(e);
    });
  }

  void trickle_next() {
    if (wire_pos_ >= wire_.size()) return after_write({});
    std::size_t n = std::min(chunk_, wire_.size() - wire_pos_);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    asio::async_write(stream_, asio::buffer(wire_.data() + wire_pos_, n),
                      [self = this->shared_from_this(), n](error_code e, std::size_t) {
                        if (e) return self->close_hard();
                        self->wire_pos_ += n;
                        if (self->wire_pos_ >= self->wire_.size()) return self->after_write({});
                        self->timer_.expires_after(self->trickle_);
                        self->timer_.async_wait([self](error_code e2) {
                          if (e2) return;
                          self->trickle_next();
                        });
                      });
  }

  void after_write(error_code ec) {
    if (ec) return close_hard();
    bool keep = res_ && res_->keep_alive();
    res_.reset();
    if (!keep) return shutdown();
    do_read();
  }

  void hang() {
    // Keep reading (to notice the client leaving) but never answer.
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(1024 * 1024);
    beast::get_lowest_layer(stream_).expires_after(sim_.cfg().hang_timeout);
    http::async_read(stream_, buf_, *parser_,
                     [self = this->shared_from_this()](error_code e, std::size_t) {
                       if (e) return self->close_hard();
                       self->hang();
                     });
  }

  void reset_conn() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    error_code ec;
    sock.set_option(asio::socket_base::linger(true, 0), ec);
    sock.close(ec);
  }

  void shutdown() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_hard(); });
    } else {
      error_code ec;
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
      close_hard();
    }
  }

  void close_hard() {
    error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  Sim& sim_;
  std::weak_ptr<int> alive_;
  std::size_t bi_;
  Stream stream_;
  beast::flat_buffer buf_{32 * 1024};  // max size (headers are capped at 16 KiB)
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  asio::steady_timer timer_;
  std::string remote_;
  std::string wire_;
  std::size_t wire_pos_ = 0;
  Millis trickle_{0};
  std::size_t chunk_ = 8;
  std::array<char, 4096> scratch_{};
};

void start_conn(Sim& sim, std::size_t bi, tcp::socket sock) {
  if (sim.cfg().http) {
    std::make_shared<Conn<beast::tcp_stream>>(sim, bi, beast::tcp_stream(std::move(sock)))->start();
  } else {
    std::make_shared<Conn<beast::ssl_stream<beast::tcp_stream>>>(
        sim, bi,
        beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), sim.ssl_ctx()))
        ->start();
  }
}

}  // namespace

int run_server(const Config& cfg) {
  asio::io_context ioc(1);
  Sim sim(cfg, ioc);
  return sim.run();
}

}  // namespace fleetpower::sim

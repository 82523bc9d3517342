// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: the IPMI 2.0 personality.
//
// Every BMC owns one UDP socket (its own loopback address, port 623 by default) on the shared
// event loop.  A datagram is handled to completion in its receive handler: no thread, no
// blocking call.  Server side of RMCP+:
//   pre-session: Get Channel Authentication Capabilities (IPMI 1.5 or RMCP+ framing),
//                Get Channel Cipher Suites;
//   Open Session -> RAKP 1/2 -> RAKP 3/4 (cipher suites 3 and 17);
//   in session (authenticated + AES-CBC-128 encrypted): Set Session Privilege Level, Get Device
//   ID, Get Chassis Status, Chassis Control, Chassis Identify, Set/Get System Boot Options,
//   Close Session.
// libfreeipmi assembles/unassembles the in-session packets (its request/response LAN header
// templates have the same bit layout, so a reply is carried in the request template and a
// request is read through the response template), encrypts/decrypts, computes the session keys
// and checks the integrity data; session-setup payloads are read and written with its fiid
// templates.  Two HMACs libfreeipmi only checks but does not compute (RAKP 2 key exchange code,
// RAKP 4 integrity check value) are computed with OpenSSL.
#include "sim_ipmi.hpp"

#include <cmath>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <freeipmi/freeipmi.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <vector>

namespace fleetpower::sim {

namespace asio = boost::asio;
namespace json = boost::json;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
using Bytes = std::vector<std::uint8_t>;

namespace {

/// A generic IPMI message body: command byte and whatever follows (request data, or completion
/// code + response data).
fiid_template_t tmpl_sim_body = {
    {8, "cmd", FIID_FIELD_REQUIRED | FIID_FIELD_LENGTH_FIXED | FIID_FIELD_MAKES_PACKET_SUFFICIENT},
    {8 * 1024, "data", FIID_FIELD_OPTIONAL | FIID_FIELD_LENGTH_VARIABLE},
    {0, "", 0}};

struct Fiid {
  fiid_obj_t o;
  explicit Fiid(fiid_template_t t) : o(fiid_obj_create(t)) {}
  ~Fiid() {
    if (o) fiid_obj_destroy(o);
  }
  Fiid(const Fiid&) = delete;
  Fiid& operator=(const Fiid&) = delete;
  std::uint64_t get(const char* f) const {
    std::uint64_t v = 0;
    if (fiid_obj_get(o, f, &v) != 1) return 0;
    return v;
  }
  int data(const char* f, void* buf, unsigned len) const {
    return fiid_obj_get_data(o, f, buf, len);
  }
  bool set(const char* f, std::uint64_t v) { return fiid_obj_set(o, f, v) >= 0; }
  bool set_data(const char* f, const void* p, unsigned len) {
    return fiid_obj_set_data(o, f, p, len) >= 0;
  }
  Bytes all() const {
    Bytes b(2048);
    int n = fiid_obj_get_all(o, b.data(), static_cast<unsigned>(b.size()));
    b.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return b;
  }
};

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint8_t cksum(const std::uint8_t* p, std::size_t n) {
  std::uint8_t s = 0;
  for (std::size_t i = 0; i < n; ++i) s = static_cast<std::uint8_t>(s + p[i]);
  return static_cast<std::uint8_t>(-s);
}

// ---------------------------------------------------------------------------------------------
// Fault knobs (--ipmi-faults): "IDX[-IDX]|*:knob[+knob],..."

struct IpmiFaults {
  bool hang = false;           ///< no answer at all
  Millis latency{0};           ///< slow answer
  long busy = 0;               ///< first K in-session commands answer 0xC0 (-1: all)
  bool wrong_sid = false;      ///< replies carry a wrong session id
  bool bad_integrity = false;  ///< replies carry corrupted integrity data
  bool dup_exec = false;       ///< execute retransmitted requests again (no reply cache)
  bool status_operator = false;  ///< Get Chassis Status needs Operator (0xD4 at User level)
  std::string describe() const {
    std::string s;
    auto add = [&](const std::string& k) { s += (s.empty() ? "" : "+") + k; };
    if (hang) add("hang");
    if (latency.count()) add(fmt::format("latency={}ms", latency.count()));
    if (busy) add(busy < 0 ? "busy" : fmt::format("busy={}", busy));
    if (wrong_sid) add("wrong-sid");
    if (bad_integrity) add("bad-integrity");
    if (dup_exec) add("dup-exec");
    if (status_operator) add("status-operator");
    return s.empty() ? "none" : s;
  }
};

bool parse_ipmi_faults(const std::string& spec, std::size_t n, std::vector<IpmiFaults>* out,
                       std::string* err) {
  out->assign(n, IpmiFaults{});
  std::size_t pos = 0;
  while (pos < spec.size()) {
    std::size_t comma = spec.find(',', pos);
    std::string item =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() : comma + 1;
    if (item.empty()) continue;
    auto colon = item.find(':');
    if (colon == std::string::npos) {
      *err = "'" + item + "': expected INDEX:KNOB";
      return false;
    }
    std::string idx = item.substr(0, colon), knobs = item.substr(colon + 1);
    std::size_t first = 1, last = n;
    if (idx != "*") {
      auto dash = idx.find('-');
      char* e = nullptr;
      first = std::strtoul(idx.c_str(), &e, 10);
      last = first;
      if (dash != std::string::npos) last = std::strtoul(idx.c_str() + dash + 1, &e, 10);
      if (first < 1 || last < first) {
        *err = "bad index '" + idx + "'";
        return false;
      }
    }
    IpmiFaults f;
    bool clear = false;
    std::size_t kp = 0;
    while (kp <= knobs.size()) {
      std::size_t plus = knobs.find('+', kp);
      std::string k = knobs.substr(kp, plus == std::string::npos ? std::string::npos : plus - kp);
      kp = plus == std::string::npos ? knobs.size() + 1 : plus + 1;
      std::string val;
      if (auto eq = k.find('='); eq != std::string::npos) {
        val = k.substr(eq + 1);
        k = k.substr(0, eq);
      }
      if (k == "hang") {
        f.hang = true;
      } else if (k == "latency") {
        if (!parse_duration(val, &f.latency)) {
          *err = "latency: bad duration '" + val + "'";
          return false;
        }
      } else if (k == "busy") {
        f.busy = val.empty() ? -1 : std::strtol(val.c_str(), nullptr, 10);
        if (f.busy == 0) {
          *err = "busy=K needs K >= 1";
          return false;
        }
      } else if (k == "wrong-sid") {
        f.wrong_sid = true;
      } else if (k == "bad-integrity") {
        f.bad_integrity = true;
      } else if (k == "dup-exec") {
        f.dup_exec = true;
      } else if (k == "status-operator") {
        f.status_operator = true;
      } else if (k == "none") {
        clear = true;
      } else {
        *err = "unknown IPMI fault knob '" + k + "'";
        return false;
      }
    }
    for (std::size_t i = first; i <= std::min(last, n); ++i) {
      IpmiFaults& d = (*out)[i - 1];
      if (clear) {
        d = IpmiFaults{};
        continue;
      }
      d.hang |= f.hang;
      if (f.latency.count()) d.latency = f.latency;
      if (f.busy) d.busy = f.busy;
      d.wrong_sid |= f.wrong_sid;
      d.bad_integrity |= f.bad_integrity;
      d.dup_exec |= f.dup_exec;
      d.status_operator |= f.status_operator;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

enum class SessState { Opened, Rakp2Sent, Active };

struct Session {
  std::uint32_t bmc_sid = 0, console_sid = 0;
  SessState state = SessState::Opened;
  std::uint8_t auth = 0, integ = 0, conf = 0;
  std::uint8_t max_priv = 4;  ///< granted at Open Session
  std::uint8_t role = 0;      ///< RAKP 1 role byte (privilege | name-only lookup)
  std::uint8_t priv = 2;      ///< current session privilege
  std::array<std::uint8_t, 16> rm{}, rc{};
  std::string user;
  std::array<std::uint8_t, 64> sik{}, k1{}, k2{};
  unsigned sik_len = 0, k1_len = 0, k2_len = 0;
  std::uint32_t out_seq = 0;
  Clock::time_point last;
  udp::endpoint peer;
  Bytes rakp2, rakp4;                                   ///< for retransmitted RAKP 1/3
  std::deque<std::pair<std::uint32_t, Bytes>> replies;  ///< session seq -> reply packet
};

struct Bmc {
  std::size_t index = 0;
  std::string address, host;
  std::unique_ptr<udp::socket> sock;
  std::array<std::uint8_t, 2048> buf{};
  udp::endpoint from;
  IpmiFaults faults;
  long busy_left = 0;
  bool on = false;
  std::uint64_t gen = 0;  ///< power generation: pending transitions check it
  std::unique_ptr<asio::steady_timer> power_timer;
  Clock::time_point identify_until{};
  bool identify_forever = false;
  std::uint8_t last_event = 0;         ///< Get Chassis Status byte 2
  std::map<std::uint8_t, Bytes> boot;  ///< boot option parameter -> data
  double watts_on = 0;                 ///< DCMI reading while on (off: standby_watts())
  std::string dcmi = "yes";            ///< yes | none (0xC1) | inactive
  std::array<std::uint8_t, 16> guid{};
  std::map<std::uint32_t, Session> sessions;
  std::uint64_t commands = 0;
  std::string vendor = "generic";  ///< vendor personality (Get Device ID identity)
  IpmiIdent ident;
};

const char* chassis_control_name(std::uint8_t c) {
  switch (c) {
    case 0:
      return "power_down";
    case 1:
      return "power_up";
    case 2:
      return "power_cycle";
    case 3:
      return "hard_reset";
    case 4:
      return "diag_interrupt";
    case 5:
      return "soft_shutdown";
  }
  return "unknown";
}

const char* cmd_name(std::uint8_t netfn, std::uint8_t cmd) {
  if (netfn == IPMI_NET_FN_APP_RQ) switch (cmd) {
      case IPMI_CMD_GET_DEVICE_ID:
        return "get_device_id";
      case IPMI_CMD_GET_CHANNEL_AUTHENTICATION_CAPABILITIES:
        return "get_channel_auth_caps";
      case IPMI_CMD_SET_SESSION_PRIVILEGE_LEVEL:
        return "set_session_privilege";
      case IPMI_CMD_CLOSE_SESSION:
        return "close_session";
      case IPMI_CMD_GET_CHANNEL_CIPHER_SUITES:
        return "get_channel_cipher_suites";
    }
  if (netfn == IPMI_NET_FN_CHASSIS_RQ) switch (cmd) {
      case IPMI_CMD_GET_CHASSIS_STATUS:
        return "get_chassis_status";
      case IPMI_CMD_CHASSIS_CONTROL:
        return "chassis_control";
      case IPMI_CMD_CHASSIS_IDENTIFY:
        return "chassis_identify";
      case IPMI_CMD_SET_SYSTEM_BOOT_OPTIONS:
        return "set_boot_options";
      case IPMI_CMD_GET_SYSTEM_BOOT_OPTIONS:
        return "get_boot_options";
    }
  if (netfn == IPMI_NET_FN_GROUP_EXTENSION_RQ && cmd == IPMI_CMD_DCMI_GET_POWER_READING)
    return "dcmi_get_power_reading";
  return "other";
}

/// A parsed IPMI LAN message (request).
struct Msg {
  std::uint8_t rs_addr = 0, netfn = 0, rs_lun = 0, rq_addr = 0, rq_seq = 0, rq_lun = 0, cmd = 0;
  Bytes data;
};

bool parse_msg(const std::uint8_t* m, std::size_t n, Msg* out) {
  if (n < 7) return false;
  if (cksum(m, 2) != m[2] || cksum(m + 3, n - 4) != m[n - 1]) return false;
  out->rs_addr = m[0];
  out->netfn = m[1] >> 2;
  out->rs_lun = m[1] & 3;
  out->rq_addr = m[3];
  out->rq_seq = m[4] >> 2;
  out->rq_lun = m[4] & 3;
  out->cmd = m[5];
  out->data.assign(m + 6, m + n - 1);
  return true;
}

/// The reply message for a request: header, cmd, completion code, data, checksums.
Bytes reply_msg(const Msg& rq, std::uint8_t cc, const Bytes& data) {
  Bytes m{rq.rq_addr, static_cast<std::uint8_t>(((rq.netfn | 1) << 2) | rq.rq_lun), 0,
          rq.rs_addr, static_cast<std::uint8_t>((rq.rq_seq << 2) | rq.rs_lun),      rq.cmd,
          cc};
  m[2] = cksum(m.data(), 2);
  m.insert(m.end(), data.begin(), data.end());
  m.push_back(cksum(m.data() + 3, m.size() - 3));
  return m;
}

const EVP_MD* md_for(std::uint8_t auth) {
  return auth == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA256 ? EVP_sha256() : EVP_sha1();
}

Bytes hmac(std::uint8_t auth, const void* key, std::size_t klen, const Bytes& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  // An empty password is an all-zero key: HMAC pads keys with zeros anyway.
  static const unsigned char zero = 0;
  if (!HMAC(md_for(auth), klen ? key : &zero, static_cast<int>(klen ? klen : 1), msg.data(),
            msg.size(), out, &len))
    return {};
  return Bytes(out, out + len);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class IpmiSim : public std::enable_shared_from_this<IpmiSim> {
 public:
  IpmiSim(asio::io_context& ioc, const IpmiConfig& cfg)
      : ioc_(ioc), cfg_(cfg), rng_(std::random_device{}()) {}
  ~IpmiSim() {
    if (events_) std::fclose(events_);
  }
  bool start(std::string* err);
  void stop();

 private:
  void receive(std::size_t bi);
  void on_packet(Bmc& b, const std::uint8_t* p, std::size_t n, const udp::endpoint& from);
  void send(Bmc& b, const udp::endpoint& to, Bytes pkt);
  void handle_v15(Bmc& b, const std::uint8_t* p, std::size_t n, const udp::endpoint& from);
  void handle_open_session(Bmc& b, const std::uint8_t* pl, std::size_t n,
                           const udp::endpoint& from);
  void handle_rakp1(Bmc& b, const std::uint8_t* pl, std::size_t n, const udp::endpoint& from);
  void handle_rakp3(Bmc& b, const std::uint8_t* pl, std::size_t n, const udp::endpoint& from);
  void handle_session(Bmc& b, const std::uint8_t* p, std::size_t n, const udp::endpoint& from);
  /// Runs one command; *close is set by Close Session.
  std::uint8_t execute(Bmc& b, Session* s, const Msg& rq, Bytes* out, bool* close);
  Bytes setup_packet(std::uint8_t payload_type, const Bytes& payload) const;
  bool session_packet(const Session& s, const Bmc& b, const Bytes& msg, Bytes* out) const;
  void power(Bmc& b, bool on, const std::string& cause);
  void event(const Bmc* b, json::object o);
  void purge(Bmc& b);
  std::uint32_t new_sid(const Bmc& b);
  bool write_inventory(std::string* err) const;
  void write_state();

  asio::io_context& ioc_;
  IpmiConfig cfg_;
  std::vector<Bmc> bmcs_;
  std::string password_;
  FILE* events_ = nullptr;
  std::mt19937_64 rng_;
  std::size_t pad_ = 4;
};

void IpmiSim::event(const Bmc* b, json::object o) {
  if (!events_) return;
  std::int64_t ms = 0;
  json::object e{{"ts", iso_now(&ms)}, {"ms", ms}, {"proto", "ipmi"}};
  if (b) {
    e["bmc"] = b->index + 1;
    e["address"] = b->address;
    e["port"] = cfg_.port;
    e["host"] = b->host;
  }
  for (auto& kv : o) e[kv.key()] = std::move(kv.value());
  std::string line = json::serialize(e) + "\n";
  std::fwrite(line.data(), 1, line.size(), events_);
}

std::uint32_t IpmiSim::new_sid(const Bmc& b) {
  for (;;) {
    auto v = static_cast<std::uint32_t>(rng_());
    if (v && !b.sessions.count(v)) return v;
  }
}

void IpmiSim::purge(Bmc& b) {
  auto now = Clock::now();
  for (auto it = b.sessions.begin(); it != b.sessions.end();) {
    if (now - it->second.last > cfg_.session_timeout) {
      event(&b, {{"event", "session"}, {"action", "expire"}});
      it = b.sessions.erase(it);
    } else {
      ++it;
    }
  }
}

bool IpmiSim::start(std::string* err) {
  std::error_code fec;
  std::filesystem::create_directories(cfg_.state_dir, fec);
  if (fec) {
    *err = "cannot create state dir " + cfg_.state_dir;
    return false;
  }
  if (ipmi_rmcpplus_init() < 0) {
    *err = "libfreeipmi crypto initialisation failed";
    return false;
  }
  password_ = cfg_.password.empty() ? random_password(16) : cfg_.password;
  if (password_.size() > IPMI_2_0_MAX_PASSWORD_LENGTH ||
      cfg_.username.size() > IPMI_MAX_USER_NAME_LENGTH) {
    *err = "IPMI user names are at most 16 bytes and passwords at most 20";
    return false;
  }
  std::vector<IpmiFaults> faults;
  if (!parse_ipmi_faults(cfg_.faults, cfg_.count, &faults, err)) {
    *err = "--ipmi-faults: " + *err;
    return false;
  }
  std::string ev = cfg_.state_dir + "/events.jsonl";
  events_ = std::fopen(ev.c_str(), "a");
  if (!events_) {
    *err = "cannot open " + ev;
    return false;
  }
  setvbuf(events_, nullptr, _IOLBF, 1 << 16);

  // One descriptor per BMC: raise the soft limit (and the hard one when allowed).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t want = static_cast<rlim_t>(cfg_.count) + 4096;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
      rlimit r2{want, want};
      if (setrlimit(RLIMIT_NOFILE, &r2) == 0) rl = r2;
    }
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  error_code ec;
  auto a = asio::ip::make_address_v4(cfg_.address_base, ec);
  // 10.0.0.0/8 only makes sense inside a network namespace a test made (netem tests).
  if (ec || ((a.to_uint() >> 24) != 127 && (a.to_uint() >> 24) != 10)) {
    *err = "--ipmi-address-base must be a loopback address (127.0.0.0/8) or 10.0.0.0/8";
    return false;
  }
  std::uint32_t addr = a.to_uint();
  const std::uint32_t net8 = addr >> 24;
  pad_ = std::max<std::size_t>(4, std::to_string(cfg_.count).size());
  bmcs_.resize(cfg_.count);
  for (std::size_t i = 0; i < cfg_.count; ++i) {
    Bmc& b = bmcs_[i];
    if (i > 0) {
      ++addr;
      while ((addr & 0xff) == 0 || (addr & 0xff) == 255) ++addr;
    }
    if ((addr >> 24) != net8) {
      *err = "address range leaves its /8";
      return false;
    }
    b.index = i;
    b.address = asio::ip::address_v4(addr).to_string();
    b.host = fmt::format("{}{:0{}}", cfg_.host_prefix, i + 1, pad_);
    b.faults = faults[i];
    b.busy_left = b.faults.busy;
    if (!cfg_.vendors.empty()) b.vendor = cfg_.vendors[i % cfg_.vendors.size()];
    if (!vendor_ipmi_ident(b.vendor, &b.ident)) {
      *err = "unknown vendor " + b.vendor;
      return false;
    }
    b.on = cfg_.initial_power == "on";
    for (std::size_t k = 0; k < b.guid.size(); ++k)
      b.guid[k] = static_cast<std::uint8_t>((i * 131 + k * 17 + 0x5a) & 0xff);
    // Boot flags (parameter 5): no override.
    b.boot[5] = Bytes{0, 0, 0, 0, 0};
    b.boot[0] = Bytes{0};
    b.boot[3] = Bytes{0};
    b.boot[4] = Bytes{0, 0};
    b.sock = std::make_unique<udp::socket>(ioc_);
    b.sock->open(udp::v4(), ec);
    if (!ec)
      b.sock->bind(
          udp::endpoint(asio::ip::address_v4(addr), static_cast<unsigned short>(cfg_.port)), ec);
    if (ec) {
      *err = fmt::format("cannot bind {}:{}/udp: {}", b.address, cfg_.port, ec.message());
      return false;
    }
    b.sock->non_blocking(true, ec);
    b.power_timer = std::make_unique<asio::steady_timer>(ioc_);
  }
  if (!write_inventory(err)) return false;
  if (!cfg_.credentials_out.empty()) {
    std::string o =
        "# Generated by fleetpower-sim.\nsim: { username: " + yaml_quote(cfg_.username) +
        ", password: " + yaml_quote(password_) + " }\n";
    if (!write_file_atomic(cfg_.credentials_out, o, 0600, err)) return false;
  }
  {
    for (auto& b : bmcs_) b.watts_on = default_watts(b.index, 0);
    std::vector<ValueRule> rules;
    if (!parse_value_rules(cfg_.watts, &rules, err)) {
      *err = "--ipmi-watts: " + *err;
      return false;
    }
    for (const auto& r : rules) {
      double w = 0;
      bool num = parse_watts_value(r.value, &w);
      if (!num && r.value != "none" && r.value != "inactive") {
        *err = "--ipmi-watts: '" + r.value + "' is not watts, none or inactive";
        return false;
      }
      std::size_t last = r.last == 0 ? bmcs_.size() : std::min(r.last, bmcs_.size());
      for (std::size_t i = r.first; i <= last; ++i) {
        if (num) {
          bmcs_[i - 1].watts_on = w;
          bmcs_[i - 1].dcmi = "yes";
        } else {
          bmcs_[i - 1].dcmi = r.value;
        }
      }
    }
    std::string pt = "# index\thost\tdcmi\twatts_on\twatts_off\n";
    for (const auto& b : bmcs_)
      pt += fmt::format("{}\t{}\t{}\t{}\t{}\n", b.index + 1, b.host, b.dcmi, b.watts_on,
                        standby_watts(b.watts_on));
    if (!write_file_atomic(cfg_.state_dir + "/ipmi-power.tsv", pt, 0644, err)) return false;
  }
  std::string tsv = "# index\thost\taddress\tport\tfaults\tvendor\tmanufacturer_id\tproduct_id\n";
  for (const auto& b : bmcs_)
    tsv += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", b.index + 1, b.host, b.address,
                       cfg_.port, b.faults.describe(), b.vendor, b.ident.manufacturer,
                       b.ident.product);
  if (!write_file_atomic(cfg_.state_dir + "/ipmi-bmcs.tsv", tsv, 0644, err)) return false;
  for (std::size_t i = 0; i < bmcs_.size(); ++i) receive(i);
  write_state();
  event(nullptr,
        {{"event", "start"}, {"bmcs", bmcs_.size()}, {"pid", static_cast<long>(::getpid())}});
  return true;
}

void IpmiSim::stop() {
  for (auto& b : bmcs_) {
    error_code ig;
    if (b.sock) b.sock->close(ig);
    if (b.power_timer) b.power_timer->cancel();
  }
  write_state();
  event(nullptr, {{"event", "stop"}});
  if (events_) std::fflush(events_);
}

bool IpmiSim::write_inventory(std::string* err) const {
  if (cfg_.inventory_out.empty()) return true;
  std::string o = "# Generated by fleetpower-sim: the simulated IPMI fleet it serves.\n";
  o += "defaults: { protocol: ipmi, credentials: sim, cipher_suite: 17, privilege: admin }\n";
  o += "groups:\n";
  // One group per run of addresses in the same /24; a parent group when there are several.
  std::vector<std::string> groups;
  std::size_t i = 0;
  while (i < bmcs_.size()) {
    auto net = asio::ip::make_address_v4(bmcs_[i].address).to_uint() >> 8;
    std::size_t j = i + 1;
    while (j < bmcs_.size() && (asio::ip::make_address_v4(bmcs_[j].address).to_uint() >> 8) == net)
      ++j;
    groups.push_back(cfg_.host_prefix + "_" + std::to_string(groups.size() + 1));
    i = j;
  }
  bool single = groups.size() == 1;
  i = 0;
  std::size_t g = 0;
  while (i < bmcs_.size()) {
    auto net = asio::ip::make_address_v4(bmcs_[i].address).to_uint() >> 8;
    std::size_t j = i + 1;
    while (j < bmcs_.size() && (asio::ip::make_address_v4(bmcs_[j].address).to_uint() >> 8) == net)
      ++j;
    std::string prefix3 = bmcs_[i].address.substr(0, bmcs_[i].address.rfind('.') + 1);
    auto oct = [&](std::size_t k) {
      return asio::ip::make_address_v4(bmcs_[k].address).to_uint() & 0xff;
    };
    std::string bmc =
        j - i == 1 ? bmcs_[i].address : fmt::format("{}[{}-{}]", prefix3, oct(i), oct(j - 1));
    std::string hosts =
        j - i == 1 ? bmcs_[i].host
                   : fmt::format("{}[{:0{}}-{:0{}}]", cfg_.host_prefix, i + 1, pad_, j, pad_);
    o += "  " + (single ? cfg_.host_prefix : groups[g]) + ":\n";
    o += "    hosts: " + yaml_quote(hosts) + "\n";
    o += "    bmc: " + yaml_quote(bmc) + "\n";
    o += "    port: " + std::to_string(cfg_.port) + "\n";
    ++g;
    i = j;
  }
  if (!single) {
    std::string list;
    for (const auto& n : groups) list += (list.empty() ? "" : ", ") + n;
    o += "  " + cfg_.host_prefix + ": { children: [" + list + "] }\n";
  }
  return write_file_atomic(cfg_.inventory_out, o, 0644, err);
}

void IpmiSim::write_state() {
  json::array arr;
  for (const auto& b : bmcs_)
    arr.push_back(json::object{{"bmc", b.index + 1},
                               {"host", b.host},
                               {"address", b.address},
                               {"port", cfg_.port},
                               {"power", b.on ? "On" : "Off"},
                               {"faults", b.faults.describe()},
                               {"sessions", b.sessions.size()},
                               {"commands", b.commands}});
  std::string err;
  write_file_atomic(cfg_.state_dir + "/ipmi-state.json", json::serialize(arr) + "\n", 0644, &err);
}

void IpmiSim::receive(std::size_t bi) {
  Bmc& b = bmcs_[bi];
  b.sock->async_receive_from(asio::buffer(b.buf), b.from,
                             [self = shared_from_this(), bi](error_code ec, std::size_t n) {
                               Bmc& bb = self->bmcs_[bi];
                               if (ec == asio::error::operation_aborted || !bb.sock->is_open())
                                 return;
                               if (!ec && !bb.faults.hang)
                                 self->on_packet(bb, bb.buf.data(), n, bb.from);
                               self->receive(bi);
                             });
}

void IpmiSim::send(Bmc& b, const udp::endpoint& to, Bytes pkt) {
  if (b.faults.latency.count() > 0) {
    auto t = std::make_shared<asio::steady_timer>(ioc_, b.faults.latency);
    t->async_wait(
        [self = shared_from_this(), t, bi = b.index, to, pkt = std::move(pkt)](error_code ec) {
          Bmc& bb = self->bmcs_[bi];
          if (ec || !bb.sock->is_open()) return;
          error_code ig;
          bb.sock->send_to(asio::buffer(pkt), to, 0, ig);
        });
    return;
  }
  error_code ig;
  b.sock->send_to(asio::buffer(pkt), to, 0, ig);
}

void IpmiSim::on_packet(Bmc& b, const std::uint8_t* p, std::size_t n, const udp::endpoint& from) {
  // RMCP header: version 6, reserved, sequence 0xff (no ack), class 7 (IPMI).
  if (n < 14 || p[0] != 0x06 || (p[3] & 0x1f) != 0x07) return;
  if ((p[4] & 0x0f) != IPMI_AUTHENTICATION_TYPE_RMCPPLUS) return handle_v15(b, p, n, from);
  if (n < 16) return;
  std::uint8_t pt = p[5] & 0x3f;
  std::size_t len = std::size_t(p[14]) | std::size_t(p[15]) << 8;
  std::uint32_t sid = le32(p + 6);
  if (pt == IPMI_PAYLOAD_TYPE_IPMI && sid != 0) return handle_session(b, p, n, from);
  if (16 + len > n) return;
  const std::uint8_t* pl = p + 16;
  switch (pt) {
    case IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_REQUEST:
      return handle_open_session(b, pl, len, from);
    case IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_1:
      return handle_rakp1(b, pl, len, from);
    case IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_3:
      return handle_rakp3(b, pl, len, from);
    case IPMI_PAYLOAD_TYPE_IPMI: {
      // Session-less message in RMCP+ framing (pre-session commands only).
      Msg rq;
      if (!parse_msg(pl, len, &rq)) return;
      Bytes data;
      bool close = false;
      std::uint8_t cc = execute(b, nullptr, rq, &data, &close);
      Bytes m = reply_msg(rq, cc, data);
      Bytes pkt{0x06, 0x00, 0xff, 0x07, IPMI_AUTHENTICATION_TYPE_RMCPPLUS, IPMI_PAYLOAD_TYPE_IPMI};
      put32(pkt, 0);
      put32(pkt, 0);
      pkt.push_back(static_cast<std::uint8_t>(m.size()));
      pkt.push_back(static_cast<std::uint8_t>(m.size() >> 8));
      pkt.insert(pkt.end(), m.begin(), m.end());
      return send(b, from, std::move(pkt));
    }
    default:
      return;
  }
}

// IPMI 1.5 framing, authentication type none, outside a session: only pre-session commands.
void IpmiSim::handle_v15(Bmc& b, const std::uint8_t* p, std::size_t n, const udp::endpoint& from) {
  if (p[4] != IPMI_AUTHENTICATION_TYPE_NONE || le32(p + 9) != 0) return;
  std::size_t len = p[13];
  if (14 + len > n) return;
  Msg rq;
  if (!parse_msg(p + 14, len, &rq)) return;
  Bytes data;
  bool close = false;
  std::uint8_t cc = execute(b, nullptr, rq, &data, &close);
  Bytes m = reply_msg(rq, cc, data);
  Bytes pkt{0x06, 0x00, 0xff, 0x07, IPMI_AUTHENTICATION_TYPE_NONE};
  put32(pkt, 0);
  put32(pkt, 0);
  pkt.push_back(static_cast<std::uint8_t>(m.size()));
  pkt.insert(pkt.end(), m.begin(), m.end());
  send(b, from, std::move(pkt));
}

Bytes IpmiSim::setup_packet(std::uint8_t payload_type, const Bytes& payload) const {
  Bytes pkt{0x06, 0x00, 0xff, 0x07, IPMI_AUTHENTICATION_TYPE_RMCPPLUS, payload_type};
  put32(pkt, 0);
  put32(pkt, 0);
  pkt.push_back(static_cast<std::uint8_t>(payload.size()));
  pkt.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
  pkt.insert(pkt.end(), payload.begin(), payload.end());
  return pkt;
}

void IpmiSim::handle_open_session(Bmc& b, const std::uint8_t* pl, std::size_t n,
                                  const udp::endpoint& from) {
  Fiid rq(tmpl_rmcpplus_open_session_request);
  if (!rq.o || n < 8 || fiid_obj_set_all(rq.o, pl, static_cast<unsigned>(n)) < 0) return;
  std::uint8_t tag = static_cast<std::uint8_t>(rq.get("message_tag"));
  std::uint8_t priv = static_cast<std::uint8_t>(rq.get("requested_maximum_privilege_level"));
  std::uint32_t csid = static_cast<std::uint32_t>(rq.get("remote_console_session_id"));
  std::uint8_t auth =
      static_cast<std::uint8_t>(rq.get("authentication_payload.authentication_algorithm"));
  std::uint8_t integ = static_cast<std::uint8_t>(rq.get("integrity_payload.integrity_algorithm"));
  std::uint8_t conf =
      static_cast<std::uint8_t>(rq.get("confidentiality_payload.confidentiality_algorithm"));
  Fiid rs(tmpl_rmcpplus_open_session_response);
  rs.set("message_tag", tag);
  auto fail = [&](std::uint8_t status, const char* why) {
    // Error replies carry the tag, the status, and the console's session id.
    Bytes body{tag, status, 0, 0};
    put32(body, csid);
    event(&b, {{"event", "session"}, {"action", "open_refused"}, {"reason", why}});
    send(b, from, setup_packet(IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_RESPONSE, body));
  };
  bool s3 = auth == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA1 &&
            integ == IPMI_INTEGRITY_ALGORITHM_HMAC_SHA1_96 &&
            conf == IPMI_CONFIDENTIALITY_ALGORITHM_AES_CBC_128;
  bool s17 = auth == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA256 &&
             integ == IPMI_INTEGRITY_ALGORITHM_HMAC_SHA256_128 &&
             conf == IPMI_CONFIDENTIALITY_ALGORITHM_AES_CBC_128;
  if (!s3 && !s17)
    return fail(RMCPPLUS_STATUS_NO_CIPHER_SUITE_MATCH_WITH_PROPOSED_SECURITY_ALGORITHMS,
                "cipher suite not supported");
  if (priv > IPMI_PRIVILEGE_LEVEL_ADMIN) return fail(RMCPPLUS_STATUS_INVALID_ROLE, "invalid role");
  purge(b);
  if (static_cast<int>(b.sessions.size()) >= cfg_.session_limit)
    return fail(RMCPPLUS_STATUS_INSUFFICIENT_RESOURCES_TO_CREATE_A_SESSION, "session limit");
  Session s;
  s.bmc_sid = new_sid(b);
  s.console_sid = csid;
  s.auth = auth;
  s.integ = integ;
  s.conf = conf;
  s.max_priv = priv == 0 ? IPMI_PRIVILEGE_LEVEL_ADMIN : priv;
  s.last = Clock::now();
  s.peer = from;
  rs.set("rmcpplus_status_code", RMCPPLUS_STATUS_NO_ERRORS);
  rs.set("maximum_privilege_level", s.max_priv);
  rs.set("reserved1", 0);
  rs.set("reserved2", 0);
  rs.set("remote_console_session_id", csid);
  rs.set("managed_system_session_id", s.bmc_sid);
  rs.set("authentication_payload.payload_type", IPMI_AUTHENTICATION_PAYLOAD_TYPE);
  rs.set("reserved3", 0);
  rs.set("authentication_payload.payload_length", 8);
  rs.set("authentication_payload.authentication_algorithm", auth);
  rs.set("reserved4", 0);
  rs.set("reserved5", 0);
  rs.set("integrity_payload.payload_type", IPMI_INTEGRITY_PAYLOAD_TYPE);
  rs.set("reserved6", 0);
  rs.set("integrity_payload.payload_length", 8);
  rs.set("integrity_payload.integrity_algorithm", integ);
  rs.set("reserved7", 0);
  rs.set("reserved8", 0);
  rs.set("confidentiality_payload.payload_type", IPMI_CONFIDENTIALITY_PAYLOAD_TYPE);
  rs.set("reserved9", 0);
  rs.set("confidentiality_payload.payload_length", 8);
  rs.set("confidentiality_payload.confidentiality_algorithm", conf);
  rs.set("reserved10", 0);
  rs.set("reserved11", 0);
  Bytes body = rs.all();
  if (body.empty()) return;
  event(&b, {{"event", "session"}, {"action", "open"}, {"cipher_suite", s3 ? 3 : 17}});
  b.sessions.emplace(s.bmc_sid, std::move(s));
  send(b, from, setup_packet(IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_RESPONSE, body));
}

void IpmiSim::handle_rakp1(Bmc& b, const std::uint8_t* pl, std::size_t n,
                           const udp::endpoint& from) {
  Fiid rq(tmpl_rmcpplus_rakp_message_1);
  if (!rq.o || n < 28 || fiid_obj_set_all(rq.o, pl, static_cast<unsigned>(n)) < 0) return;
  std::uint8_t tag = static_cast<std::uint8_t>(rq.get("message_tag"));
  std::uint32_t bsid = static_cast<std::uint32_t>(rq.get("managed_system_session_id"));
  auto it = b.sessions.find(bsid);
  auto fail = [&](std::uint32_t csid, std::uint8_t status, const char* why) {
    Bytes body{tag, status, 0, 0};
    put32(body, csid);
    event(&b, {{"event", "session"}, {"action", "rakp_refused"}, {"reason", why}});
    send(b, from, setup_packet(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_2, body));
  };
  if (it == b.sessions.end()) return fail(0, RMCPPLUS_STATUS_INVALID_SESSION_ID, "unknown session");
  Session& s = it->second;
  if (s.state == SessState::Rakp2Sent && !s.rakp2.empty()) {  // retransmitted RAKP 1
    s.rakp2[16] = tag;
    return send(b, from, s.rakp2);
  }
  if (s.state != SessState::Opened) return;
  std::uint8_t role = static_cast<std::uint8_t>(rq.get("requested_maximum_privilege_level") |
                                                (rq.get("name_only_lookup") << 4));
  std::uint8_t ulen = static_cast<std::uint8_t>(rq.get("user_name_length"));
  char user[IPMI_MAX_USER_NAME_LENGTH + 1] = {};
  int got = ulen ? rq.data("user_name", user, sizeof user - 1) : 0;
  std::uint32_t csid = s.console_sid;
  if (ulen > IPMI_MAX_USER_NAME_LENGTH || got != ulen) {
    b.sessions.erase(it);
    return fail(csid, RMCPPLUS_STATUS_INVALID_NAME_LENGTH, "bad user name length");
  }
  s.user.assign(user, ulen);
  if (s.user != cfg_.username) {
    b.sessions.erase(it);
    return fail(csid, RMCPPLUS_STATUS_UNAUTHORIZED_NAME, "unknown user");
  }
  std::uint8_t priv = role & 0x0f;
  if (priv > IPMI_PRIVILEGE_LEVEL_ADMIN) {
    b.sessions.erase(it);
    return fail(csid, RMCPPLUS_STATUS_UNAUTHORIZED_ROLE_OR_PRIVILEGE_LEVEL_REQUESTED, "role");
  }
  s.role = role;
  if (priv) s.max_priv = std::min<std::uint8_t>(s.max_priv, priv);
  rq.data("remote_console_random_number", s.rm.data(), s.rm.size());
  RAND_bytes(s.rc.data(), static_cast<int>(s.rc.size()));
  // RAKP 2 key exchange authentication code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, RoleM,
  // ULengthM, UNameM).
  Bytes m;
  put32(m, s.console_sid);
  put32(m, s.bmc_sid);
  m.insert(m.end(), s.rm.begin(), s.rm.end());
  m.insert(m.end(), s.rc.begin(), s.rc.end());
  m.insert(m.end(), b.guid.begin(), b.guid.end());
  m.push_back(role);
  m.push_back(ulen);
  m.insert(m.end(), s.user.begin(), s.user.end());
  Bytes code = hmac(s.auth, password_.data(), password_.size(), m);
  // Session keys (SIK, K1, K2) from libfreeipmi.
  void* sik = s.sik.data();
  void* k1 = s.k1.data();
  void* k2 = s.k2.data();
  s.sik_len = s.k1_len = s.k2_len = 64;
  if (code.empty() ||
      ipmi_calculate_rmcpplus_session_keys(
          s.auth, s.integ, s.conf, password_.empty() ? nullptr : password_.data(),
          static_cast<unsigned>(password_.size()), nullptr, 0, s.rm.data(), 16, s.rc.data(), 16,
          static_cast<std::uint8_t>(role >> 4), priv, s.user.empty() ? nullptr : s.user.data(),
          ulen, &sik, &s.sik_len, &k1, &s.k1_len, &k2, &s.k2_len) < 0 ||
      sik != s.sik.data() || k1 != s.k1.data() || k2 != s.k2.data()) {
    b.sessions.erase(it);
    return fail(csid, RMCPPLUS_STATUS_INSUFFICIENT_RESOURCES_TO_CREATE_A_SESSION,
                "key computation");
  }
  Fiid rs(tmpl_rmcpplus_rakp_message_2);
  rs.set("message_tag", tag);
  rs.set("rmcpplus_status_code", RMCPPLUS_STATUS_NO_ERRORS);
  rs.set("reserved1", 0);
  rs.set("remote_console_session_id", s.console_sid);
  rs.set_data("managed_system_random_number", s.rc.data(), 16);
  rs.set_data("managed_system_guid", b.guid.data(), 16);
  rs.set_data("key_exchange_authentication_code", code.data(), static_cast<unsigned>(code.size()));
  s.rakp2 = setup_packet(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_2, rs.all());
  s.state = SessState::Rakp2Sent;
  s.last = Clock::now();
  send(b, from, s.rakp2);
}

void IpmiSim::handle_rakp3(Bmc& b, const std::uint8_t* pl, std::size_t n,
                           const udp::endpoint& from) {
  Fiid rq(tmpl_rmcpplus_rakp_message_3);
  if (!rq.o || n < 8 || fiid_obj_set_all(rq.o, pl, static_cast<unsigned>(n)) < 0) return;
  std::uint8_t tag = static_cast<std::uint8_t>(rq.get("message_tag"));
  std::uint8_t status = static_cast<std::uint8_t>(rq.get("rmcpplus_status_code"));
  std::uint32_t bsid = static_cast<std::uint32_t>(rq.get("managed_system_session_id"));
  auto it = b.sessions.find(bsid);
  auto reply4 = [&](std::uint32_t csid, std::uint8_t st) {
    Bytes body{tag, st, 0, 0};
    put32(body, csid);
    send(b, from, setup_packet(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_4, body));
  };
  if (it == b.sessions.end()) return reply4(0, RMCPPLUS_STATUS_INVALID_SESSION_ID);
  Session& s = it->second;
  if (s.state == SessState::Active && !s.rakp4.empty()) {  // retransmitted RAKP 3
    s.rakp4[16] = tag;
    return send(b, from, s.rakp4);
  }
  if (s.state != SessState::Rakp2Sent) return;
  std::uint32_t csid = s.console_sid;
  if (status != RMCPPLUS_STATUS_NO_ERRORS) {
    // The console refused our RAKP 2 (wrong password on its side): drop the session.
    event(&b, {{"event", "session"},
               {"action", "auth_failed"},
               {"reason", "console rejected RAKP 2"},
               {"status", status}});
    b.sessions.erase(it);
    return;
  }
  std::uint8_t want[64];
  int wl = ipmi_calculate_rakp_3_key_exchange_authentication_code(
      s.auth, password_.empty() ? nullptr : password_.data(),
      static_cast<unsigned>(password_.size()), s.rc.data(), 16, s.console_sid,
      static_cast<std::uint8_t>(s.role >> 4), static_cast<std::uint8_t>(s.role & 0x0f),
      s.user.empty() ? nullptr : s.user.data(), static_cast<std::uint8_t>(s.user.size()), want,
      sizeof want);
  std::uint8_t got[64];
  int gl = rq.data("key_exchange_authentication_code", got, sizeof got);
  if (wl <= 0 || gl != wl || std::memcmp(want, got, static_cast<std::size_t>(wl)) != 0) {
    event(&b, {{"event", "session"}, {"action", "auth_failed"}, {"reason", "bad RAKP 3 code"}});
    b.sessions.erase(it);
    return reply4(csid, RMCPPLUS_STATUS_INVALID_INTEGRITY_CHECK_VALUE);
  }
  // RAKP 4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated (12 bytes for SHA1, 16
  // for SHA256).
  Bytes m(s.rm.begin(), s.rm.end());
  put32(m, s.bmc_sid);
  m.insert(m.end(), b.guid.begin(), b.guid.end());
  Bytes icv = hmac(s.auth, s.sik.data(), s.sik_len, m);
  icv.resize(s.auth == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA256 ? 16 : 12);
  Fiid rs(tmpl_rmcpplus_rakp_message_4);
  rs.set("message_tag", tag);
  rs.set("rmcpplus_status_code", RMCPPLUS_STATUS_NO_ERRORS);
  rs.set("reserved1", 0);
  rs.set("remote_console_session_id", s.console_sid);
  rs.set_data("integrity_check_value", icv.data(), static_cast<unsigned>(icv.size()));
  s.rakp4 = setup_packet(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_4, rs.all());
  s.state = SessState::Active;
  s.priv = IPMI_PRIVILEGE_LEVEL_USER;
  s.last = Clock::now();
  s.peer = from;
  event(&b, {{"event", "session"},
             {"action", "active"},
             {"user", s.user},
             {"max_privilege", s.max_priv}});
  send(b, from, s.rakp4);
}

bool IpmiSim::session_packet(const Session& s, const Bmc& b, const Bytes& msg, Bytes* out) const {
  // The reply's LAN header is carried in libfreeipmi's request-header template (same layout).
  Fiid rmcp(tmpl_rmcp_hdr), hdr(tmpl_rmcpplus_session_hdr), lan(tmpl_lan_msg_hdr_rq),
      body(tmpl_sim_body), trlr(tmpl_rmcpplus_session_trlr);
  std::uint32_t sid = b.faults.wrong_sid ? s.console_sid ^ 0x5a5a5a5a : s.console_sid;
  if (fill_rmcp_hdr_ipmi(rmcp.o) < 0 ||
      fill_rmcpplus_session_hdr(IPMI_PAYLOAD_TYPE_IPMI, IPMI_PAYLOAD_FLAG_AUTHENTICATED,
                                IPMI_PAYLOAD_FLAG_ENCRYPTED, 0, 0, sid, s.out_seq, hdr.o) < 0 ||
      fiid_obj_set_all(lan.o, msg.data(), 5) < 0 ||
      fiid_obj_set_all(body.o, msg.data() + 5, static_cast<unsigned>(msg.size() - 6)) < 0 ||
      fill_rmcpplus_session_trlr(trlr.o) < 0)
    return false;
  out->resize(2048);
  int len = assemble_ipmi_rmcpplus_pkt(s.auth, s.integ, s.conf, s.k1.data(), s.k1_len, s.k2.data(),
                                       s.k2_len, nullptr, 0, rmcp.o, hdr.o, lan.o, body.o, trlr.o,
                                       out->data(), static_cast<unsigned>(out->size()),
                                       IPMI_INTERFACE_FLAGS_DEFAULT);
  if (len <= 0) return false;
  out->resize(static_cast<std::size_t>(len));
  if (b.faults.bad_integrity) out->back() ^= 0xff;
  return true;
}

void IpmiSim::handle_session(Bmc& b, const std::uint8_t* p, std::size_t n,
                             const udp::endpoint& from) {
  std::uint32_t sid = le32(p + 6);
  auto it = b.sessions.find(sid);
  if (it == b.sessions.end() || it->second.state != SessState::Active) return;
  Session& s = it->second;
  std::uint32_t seq = le32(p + 10);
  if (!(p[5] & 0x40) || !(p[5] & 0x80)) return;  // must be authenticated and encrypted
  Fiid rmcp(tmpl_rmcp_hdr), hdr(tmpl_rmcpplus_session_hdr), payload(tmpl_rmcpplus_payload),
      lan(tmpl_lan_msg_hdr_rs), body(tmpl_sim_body), lantrlr(tmpl_lan_msg_trlr),
      trlr(tmpl_rmcpplus_session_trlr);
  // The request's LAN header is read through libfreeipmi's response-header template.
  int r =
      unassemble_ipmi_rmcpplus_pkt(s.auth, s.integ, s.conf, s.k1.data(), s.k1_len, s.k2.data(),
                                   s.k2_len, p, static_cast<unsigned>(n), rmcp.o, hdr.o, payload.o,
                                   lan.o, body.o, lantrlr.o, trlr.o, IPMI_INTERFACE_FLAGS_DEFAULT);
  if (r < 0) return;
  if (ipmi_rmcpplus_check_packet_session_authentication_code(
          s.integ, p, static_cast<unsigned>(n), s.k1.data(), s.k1_len, nullptr, 0, trlr.o) != 1) {
    event(&b, {{"event", "session"}, {"action", "bad_integrity"}, {"seq", seq}});
    return;
  }
  if (ipmi_rmcpplus_check_payload_pad(s.conf, payload.o) != 1) return;
  Bytes m(5);
  if (fiid_obj_get_all(lan.o, m.data(), 5) != 5) return;
  Bytes rest = body.all();
  if (rest.empty()) return;
  m.insert(m.end(), rest.begin(), rest.end());
  m.push_back(static_cast<std::uint8_t>(lantrlr.get("checksum2")));
  Msg rq;
  if (!parse_msg(m.data(), m.size(), &rq)) return;
  s.last = Clock::now();
  s.peer = from;
  // Duplicate detection by session sequence number: a retransmission is answered from the
  // reply cache, not executed again (unless the dup-exec knob says so).
  for (const auto& [q, pkt] : s.replies)
    if (q == seq && !b.faults.dup_exec) {
      event(&b, {{"event", "request"},
                 {"cmd", cmd_name(rq.netfn, rq.cmd)},
                 {"seq", seq},
                 {"duplicate", true},
                 {"executed", false}});
      return send(b, from, pkt);
    }
  bool dup = false;
  for (const auto& e : s.replies) dup |= e.first == seq;
  Bytes data;
  bool close = false;
  std::uint8_t cc;
  if (b.busy_left != 0) {
    if (b.busy_left > 0) --b.busy_left;
    cc = IPMI_COMP_CODE_NODE_BUSY;
    event(&b,
          {{"event", "request"}, {"cmd", cmd_name(rq.netfn, rq.cmd)}, {"seq", seq}, {"cc", cc}});
  } else {
    cc = execute(b, &s, rq, &data, &close);
    json::object e{
        {"event", "request"}, {"cmd", cmd_name(rq.netfn, rq.cmd)}, {"seq", seq}, {"cc", cc}};
    if (rq.netfn == IPMI_NET_FN_CHASSIS_RQ && rq.cmd == IPMI_CMD_CHASSIS_CONTROL &&
        !rq.data.empty())
      e["op"] = chassis_control_name(rq.data[0] & 0x0f);
    if (dup) e["duplicate"] = true;
    if (std::string_view(cmd_name(rq.netfn, rq.cmd)) == "other")
      e["code"] = fmt::format("netfn 0x{:02x} cmd 0x{:02x}", rq.netfn, rq.cmd);
    event(&b, std::move(e));
  }
  ++b.commands;
  ++s.out_seq;
  if (s.out_seq == 0) s.out_seq = 1;
  Bytes pkt;
  if (!session_packet(s, b, reply_msg(rq, cc, data), &pkt)) return;
  s.replies.emplace_back(seq, pkt);
  while (s.replies.size() > 16) s.replies.pop_front();
  send(b, from, pkt);
  if (close) {
    event(&b, {{"event", "session"}, {"action", "close"}});
    b.sessions.erase(it);
  }
}

void IpmiSim::power(Bmc& b, bool on, const std::string& cause) {
  bool from = b.on;
  b.on = on;
  if (from != on)
    event(&b, {{"event", "power"},
               {"from", from ? "On" : "Off"},
               {"to", on ? "On" : "Off"},
               {"cause", cause}});
}

std::uint8_t IpmiSim::execute(Bmc& b, Session* s, const Msg& rq, Bytes* out, bool* close) {
  const auto& d = rq.data;
  auto need = [&](std::uint8_t priv) { return s && s->priv >= priv; };
  if (rq.netfn == IPMI_NET_FN_APP_RQ) {
    switch (rq.cmd) {
      case IPMI_CMD_GET_CHANNEL_AUTHENTICATION_CAPABILITIES: {
        if (d.size() < 2) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        // channel 1; IPMI 2.0 extended data available, auth type "none" listed for 1.5
        // clients' sake; non-null user names; IPMI 2.0 connections supported.
        *out = {0x01, 0x80 | 0x01, 0x04, 0x02, 0, 0, 0, 0};
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_GET_CHANNEL_CIPHER_SUITES: {
        if (d.size() < 3) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        // Records by cipher suite: start byte C0h, id, then the algorithms tagged 00b/01b/10b.
        static const Bytes recs{0xc0, 3, 0x01, 0x41, 0x81, 0xc0, 17, 0x03, 0x44, 0x81};
        std::size_t idx = d[2] & 0x3f;
        *out = {0x01};
        for (std::size_t k = idx * 16; k < recs.size() && k < idx * 16 + 16; ++k)
          out->push_back(recs[k]);
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_GET_DEVICE_ID:
        if (!s) break;
        // device 0x20 rev 1, firmware 1.23, IPMI 2.0, chassis + bridge + IPMB device support,
        // manufacturer id (20 bits, LS byte first) and product id (LS byte first) of the vendor
        // personality (generic: manufacturer 0 = unspecified, product 0x5046).
        *out = {0x20,
                0x01,
                0x01,
                0x23,
                0x02,
                0x9f,
                static_cast<std::uint8_t>(b.ident.manufacturer & 0xff),
                static_cast<std::uint8_t>((b.ident.manufacturer >> 8) & 0xff),
                static_cast<std::uint8_t>((b.ident.manufacturer >> 16) & 0x0f),
                static_cast<std::uint8_t>(b.ident.product & 0xff),
                static_cast<std::uint8_t>(b.ident.product >> 8)};
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      case IPMI_CMD_SET_SESSION_PRIVILEGE_LEVEL: {
        if (!s) break;
        if (d.empty()) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        std::uint8_t want = d[0] & 0x0f;
        if (want) {
          if (want > IPMI_PRIVILEGE_LEVEL_ADMIN || want < IPMI_PRIVILEGE_LEVEL_USER) return 0x80;
          if (want > s->max_priv) return 0x81;
          s->priv = want;
        }
        *out = {s->priv};
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_CLOSE_SESSION: {
        if (!s) break;
        if (d.size() < 4) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        if (le32(d.data()) != s->bmc_sid) return 0x87;  // invalid session id
        *close = true;
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
    }
  } else if (rq.netfn == IPMI_NET_FN_CHASSIS_RQ && s) {
    switch (rq.cmd) {
      case IPMI_CMD_GET_CHASSIS_STATUS: {
        if (b.faults.status_operator && !need(IPMI_PRIVILEGE_LEVEL_OPERATOR))
          return IPMI_COMP_CODE_INSUFFICIENT_PRIVILEGE_LEVEL;
        bool ident = b.identify_forever || Clock::now() < b.identify_until;
        std::uint8_t ident_state = b.identify_forever ? 2 : ident ? 1 : 0;
        // power state + restore policy "previous state" (01b); last power event; misc state
        // with "identify command supported" and the identify state.
        *out = {static_cast<std::uint8_t>((b.on ? 0x01 : 0x00) | (1 << 5)), b.last_event,
                static_cast<std::uint8_t>(0x40 | (ident_state << 4))};
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_CHASSIS_CONTROL: {
        if (!need(IPMI_PRIVILEGE_LEVEL_OPERATOR))
          return IPMI_COMP_CODE_INSUFFICIENT_PRIVILEGE_LEVEL;
        if (d.empty()) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        std::uint8_t c = d[0] & 0x0f;
        if (c > 5) return IPMI_COMP_CODE_INVALID_DATA_FIELD_IN_REQUEST;
        ++b.gen;  // any new control supersedes a pending transition
        b.power_timer->cancel();
        std::string cause = std::string("ipmi:") + chassis_control_name(c);
        auto later = [&](Millis delay, bool to) {
          auto g = b.gen;
          b.power_timer->expires_after(delay);
          b.power_timer->async_wait(
              [self = shared_from_this(), bi = b.index, g, to, cause](error_code ec) {
                Bmc& bb = self->bmcs_[bi];
                if (ec || bb.gen != g) return;
                self->power(bb, to, cause);
                if (to) bb.last_event = 0x10;  // last power-up via IPMI command
              });
        };
        switch (c) {
          case 0:
            power(b, false, cause);
            break;
          case 1:
            power(b, true, cause);
            b.last_event = 0x10;
            break;
          case 2:
            // Off now, on again after the cycle delay (an Off system is simply powered on).
            power(b, false, cause);
            later(cfg_.cycle_delay, true);
            break;
          case 3:
            if (b.on) event(&b, {{"event", "restart"}, {"cause", cause}});
            break;
          case 4:
            event(&b, {{"event", "nmi"}, {"power", b.on ? "On" : "Off"}});
            break;
          case 5:
            if (b.on) later(cfg_.soft_delay, false);
            break;
        }
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_CHASSIS_IDENTIFY: {
        if (!need(IPMI_PRIVILEGE_LEVEL_OPERATOR))
          return IPMI_COMP_CODE_INSUFFICIENT_PRIVILEGE_LEVEL;
        unsigned secs = d.empty() ? 15 : d[0];
        bool force = d.size() >= 2 && (d[1] & 1);
        b.identify_forever = force;
        b.identify_until = Clock::now() + std::chrono::seconds(force ? 0 : secs);
        event(&b, {{"event", "identify"}, {"seconds", force ? -1 : static_cast<int>(secs)}});
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_SET_SYSTEM_BOOT_OPTIONS: {
        if (!need(IPMI_PRIVILEGE_LEVEL_OPERATOR))
          return IPMI_COMP_CODE_INSUFFICIENT_PRIVILEGE_LEVEL;
        if (d.empty()) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        std::uint8_t param = d[0] & 0x7f;
        auto cur = b.boot.find(param);
        if (cur == b.boot.end()) return 0x80;  // parameter not supported
        if (d.size() - 1 < cur->second.size()) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        cur->second.assign(d.begin() + 1, d.begin() + 1 + static_cast<long>(cur->second.size()));
        if (param == 5) {
          std::string hex;
          for (auto x : cur->second) hex += fmt::format("{:02x}", x);
          event(&b, {{"event", "boot"}, {"flags", hex}});
        }
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
      case IPMI_CMD_GET_SYSTEM_BOOT_OPTIONS: {
        if (d.empty()) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
        std::uint8_t param = d[0] & 0x7f;
        auto cur = b.boot.find(param);
        if (cur == b.boot.end()) return 0x80;
        *out = {0x01, param};
        out->insert(out->end(), cur->second.begin(), cur->second.end());
        return IPMI_COMP_CODE_COMMAND_SUCCESS;
      }
    }
  }
  if (rq.netfn == IPMI_NET_FN_GROUP_EXTENSION_RQ && s && rq.cmd == IPMI_CMD_DCMI_GET_POWER_READING &&
      b.dcmi != "none") {
    // DCMI 1.5 Get Power Reading: group extension id DCh, mode, mode attributes, reserved.
    if (d.size() < 4) return IPMI_COMP_CODE_REQUEST_DATA_LENGTH_INVALID;
    if (d[0] != IPMI_NET_FN_GROUP_EXTENSION_IDENTIFICATION_DCMI)
      return IPMI_COMP_CODE_INVALID_DATA_FIELD_IN_REQUEST;
    if (d[1] != 1 && d[1] != 2) return IPMI_COMP_CODE_INVALID_DATA_FIELD_IN_REQUEST;
    double w = b.on ? b.watts_on : standby_watts(b.watts_on);
    auto cur = static_cast<std::uint16_t>(std::lround(w));
    auto u16 = [&](std::uint16_t v) {
      out->push_back(static_cast<std::uint8_t>(v & 0xff));
      out->push_back(static_cast<std::uint8_t>(v >> 8));
    };
    auto u32 = [&](std::uint32_t v) {
      for (int k = 0; k < 4; ++k) out->push_back(static_cast<std::uint8_t>(v >> (8 * k)));
    };
    *out = {IPMI_NET_FN_GROUP_EXTENSION_IDENTIFICATION_DCMI};
    u16(cur);  // current
    u16(cur);  // minimum over the sampling period
    u16(cur);  // maximum
    u16(cur);  // average
    u32(static_cast<std::uint32_t>(::time(nullptr)));
    u32(1000);  // statistics reporting period (ms)
    out->push_back(b.dcmi == "inactive" ? 0x00 : 0x40);  // bit 6: power measurement active
    return IPMI_COMP_CODE_COMMAND_SUCCESS;
  }
  return IPMI_COMP_CODE_INVALID_COMMAND;
}

// ---------------------------------------------------------------------------------------------

std::shared_ptr<IpmiSim> ipmi_start(asio::io_context& ioc, const IpmiConfig& cfg,
                                    std::string* err) {
  auto sim = std::make_shared<IpmiSim>(ioc, cfg);
  if (!sim->start(err)) return nullptr;
  return sim;
}

void ipmi_stop(IpmiSim& sim) { sim.stop(); }

int run_ipmi_server(const IpmiConfig& cfg) {
  asio::io_context ioc(1);
  auto t0 = Clock::now();
  std::string err;
  auto sim = ipmi_start(ioc, cfg, &err);
  if (!sim) {
    std::fprintf(stderr, "fleetpower-sim: %s\n", err.c_str());
    return 1;
  }
  asio::signal_set sigs(ioc, SIGTERM, SIGINT);
  sigs.async_wait([&](error_code ec, int) {
    if (ec) return;
    sim->stop();
    ioc.stop();
  });
  if (!cfg.quiet)
    std::fprintf(
        stderr, "fleetpower-sim: %zu IPMI BMCs listening in %lld ms; state in %s\n", cfg.count,
        static_cast<long long>(std::chrono::duration_cast<Millis>(Clock::now() - t0).count()),
        cfg.state_dir.c_str());
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  for (;;) {
    try {
      ioc.run();
      break;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fleetpower-sim: handler error: %s\n", e.what());
    }
  }
  return 0;
}

}  // namespace fleetpower::sim

// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/engine.hpp"
#include "transport/ipmi/random.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <freeipmi/freeipmi.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace fleetpower::ipmi {

std::string_view awaited_name(Sent s) {
  switch (s) {
    case Sent::Nothing:
      return "nothing";
    case Sent::Resolve:
      return "the BMC address to resolve";
    case Sent::GetChannelAuthCaps:
      return "the Get Channel Authentication Capabilities reply";
    case Sent::OpenSession:
      return "the Open Session response";
    case Sent::Rakp1:
      return "RAKP 2";
    case Sent::Rakp3:
      return "RAKP 4";
    case Sent::SetSessionPrivilege:
      return "the Set Session Privilege Level reply";
    case Sent::GetChassisStatus:
      return "the Get Chassis Status reply";
    case Sent::ChassisControl:
      return "the Chassis Control reply";
    case Sent::ChassisIdentify:
      return "the Chassis Identify reply";
    case Sent::SetBootFlags:
      return "the Set System Boot Options reply";
    case Sent::GetBootFlags:
      return "the Get System Boot Options reply";
    case Sent::GetDeviceId:
      return "the Get Device ID reply";
    case Sent::GetCipherSuites:
      return "the Get Channel Cipher Suites reply";
    case Sent::GetPowerReading:
      return "the DCMI Get Power Reading reply";
    case Sent::CloseSession:
      return "the Close Session reply";
  }
  return "?";
}

namespace {

std::string_view hint(Sent s) {
  switch (s) {
    case Sent::Rakp1:
      return " (check the password?)";
    case Sent::OpenSession:
      return " (BMC session table full, or cipher suite not offered?)";
    default:
      return "";
  }
}

std::uint8_t control_code(Action a) {
  switch (a) {
    case Action::On:
      return IPMI_CHASSIS_CONTROL_POWER_UP;
    case Action::Off:
      return IPMI_CHASSIS_CONTROL_POWER_DOWN;
    case Action::Cycle:
      return IPMI_CHASSIS_CONTROL_POWER_CYCLE;
    case Action::Reset:
      return IPMI_CHASSIS_CONTROL_HARD_RESET;
    case Action::Soft:
      return IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN;
    case Action::Nmi:
      return IPMI_CHASSIS_CONTROL_PULSE_DIAGNOSTIC_INTERRUPT;
    default:
      return 0xFF;
  }
}

std::string_view control_name(Action a) {
  switch (a) {
    case Action::On:
      return "power up";
    case Action::Off:
      return "power down";
    case Action::Cycle:
      return "power cycle";
    case Action::Reset:
      return "hard reset";
    case Action::Soft:
      return "soft shutdown";
    case Action::Nmi:
      return "diagnostic interrupt";
    default:
      return "?";
  }
}

std::uint8_t boot_code(BootDevice d) {
  switch (d) {
    case BootDevice::Pxe:
      return IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE;
    case BootDevice::Disk:
      return IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_HARD_DRIVE;
    case BootDevice::Bios:
      return IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_BIOS_SETUP;
    case BootDevice::Cdrom:
      return IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_CD_DVD;
    case BootDevice::None:
      break;
  }
  return 0;
}

std::string boot_code_name(std::uint64_t code) {
  for (auto d : {BootDevice::Pxe, BootDevice::Disk, BootDevice::Bios, BootDevice::Cdrom})
    if (boot_code(d) == code) return std::string(boot_device_name(d));
  return code == 0 ? "none" : fmt::format("device 0x{:X}", code);
}

struct CmdInfo {
  std::uint8_t netfn;
  std::uint8_t cmd;
  std::string_view name;
};
CmdInfo cmd_info(Sent s) {
  switch (s) {
    case Sent::SetSessionPrivilege:
      return {IPMI_NET_FN_APP_RQ, IPMI_CMD_SET_SESSION_PRIVILEGE_LEVEL,
              "Set Session Privilege Level"};
    case Sent::GetChassisStatus:
      return {IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_GET_CHASSIS_STATUS, "Get Chassis Status"};
    case Sent::ChassisControl:
      return {IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_CHASSIS_CONTROL, "Chassis Control"};
    case Sent::ChassisIdentify:
      return {IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_CHASSIS_IDENTIFY, "Chassis Identify"};
    case Sent::SetBootFlags:
      return {IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_SET_SYSTEM_BOOT_OPTIONS, "Set System Boot Options"};
    case Sent::GetBootFlags:
      return {IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_GET_SYSTEM_BOOT_OPTIONS, "Get System Boot Options"};
    case Sent::GetDeviceId:
      return {IPMI_NET_FN_APP_RQ, IPMI_CMD_GET_DEVICE_ID, "Get Device ID"};
    case Sent::GetCipherSuites:
      return {IPMI_NET_FN_APP_RQ, IPMI_CMD_GET_CHANNEL_CIPHER_SUITES, "Get Channel Cipher Suites"};
    case Sent::GetPowerReading:
      return {IPMI_NET_FN_GROUP_EXTENSION_RQ, IPMI_CMD_DCMI_GET_POWER_READING,
              "DCMI Get Power Reading"};
    case Sent::CloseSession:
      return {IPMI_NET_FN_APP_RQ, IPMI_CMD_CLOSE_SESSION, "Close Session"};
    default:
      return {0, 0, "?"};
  }
}

fiid_template_t* reply_template(Sent s) {
  switch (s) {
    case Sent::SetSessionPrivilege:
      return &tmpl_cmd_set_session_privilege_level_rs;
    case Sent::GetChassisStatus:
      return &tmpl_cmd_get_chassis_status_rs;
    case Sent::ChassisControl:
      return &tmpl_cmd_chassis_control_rs;
    case Sent::ChassisIdentify:
      return &tmpl_cmd_chassis_identify_rs;
    case Sent::SetBootFlags:
      return &tmpl_cmd_set_system_boot_options_rs;
    case Sent::GetBootFlags:
      return &tmpl_cmd_get_system_boot_options_boot_flags_rs;
    case Sent::GetDeviceId:
      return &tmpl_cmd_get_device_id_rs;
    case Sent::GetCipherSuites:
      return &tmpl_cmd_get_channel_cipher_suites_rs;
    case Sent::GetPowerReading:
      return &tmpl_cmd_dcmi_get_power_reading_rs;
    case Sent::CloseSession:
      return &tmpl_cmd_close_session_rs;
    default:
      return nullptr;
  }
}

bool is_idempotent_control(Action a) { return a == Action::On || a == Action::Off; }

}  // namespace

// =============================================================================================
// Session: one operation on one BMC.  Owned by the engine (by_sid_) until it finishes.
// =============================================================================================
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Engine& e, OpContext& ctx, CompletionFn done)
      : eng_(e),
        target_name_(ctx.target.name),
        host_(ctx.target.bmc),
        port_(ctx.target.port ? ctx.target.port : 623),
        bmc_key_(ctx.target.bmc_key()),
        req_(ctx.request),
        deadline_(ctx.request.read_first && ctx.read_deadline != Clock::time_point{}
                      ? std::min(ctx.read_deadline, ctx.deadline)
                      : ctx.deadline),
        final_deadline_(ctx.deadline),
        read_deadline_(deadline_),
        slot_(ctx.cancel),
        done_(std::move(done)),
        retx_timer_(e.executor()),
        deadline_timer_(e.executor()),
        started_(Clock::now()) {
    hs_.console_sid = e.new_session_id();
    sock_ = e.pick_socket();
  }

  std::uint32_t sid() const { return hs_.console_sid; }
  const udp::endpoint& peer() const { return peer_; }
  bool expects_ipmi15() const { return sent_ == Sent::GetChannelAuthCaps; }
  bool finished() const { return finished_; }
  /// A datagram from this session's BMC that no session accepted: counted for the reason.
  void note_ignored(bool foreign_session) {
    ++(foreign_session ? ignored_foreign_ : ignored_bad_);
    trace("ignored a datagram ({}) while awaiting {}",
          foreign_session ? "another session id" : "not the awaited reply", awaited_name(sent_));
  }

  void arm_deadline() {
    deadline_timer_.expires_at(deadline_);
    deadline_timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = w.lock()) s->on_deadline();
    });
  }

  /// Validate settings and go.  Every failure path completes through finish() (posted).
  void begin(const Target& t, const Credential& c) {
    std::string reason;
    if (!make_settings(t, c, eng_.options(), st_, reason))
      return finish(Outcome::failure(ErrorKind::Config, std::move(reason)));
    // Vendor plugin: named by the inventory, else the generic one (detection needs a session;
    // 'probe' reports the plugin Get Device ID points to).
    if (auto* reg = eng_.options().plugins.get()) {
      vendor_auto_ = t.vendor.empty() || t.vendor == "auto";
      std::string err;
      plugin_ = vendor_auto_ ? reg->fallback(plugin::Transport::Ipmi) : reg->select(t.vendor, plugin::Transport::Ipmi, &err);
      if (!vendor_auto_ && !plugin_) return finish(Outcome::failure(ErrorKind::Config, err));
      if (plugin_) {
        const auto& ip = plugin_->profile.ipmi;
        if (!t.var("cipher_suite") && ip.cipher_suite && (*ip.cipher_suite == 3 || *ip.cipher_suite == 17)) {
          st_.ciphers = {*ip.cipher_suite};
          st_.cipher_auto = false;
        }
        if (!t.var("privilege") && ip.privilege)
          st_.privilege = *ip.privilege == "user" ? 2 : *ip.privilege == "admin" ? 4 : 3;
      }
    }
    if (req_.action == Action::BootDev && req_.bootdev == BootDevice::None)
      return finish(Outcome::failure(ErrorKind::Config, "bootdev: no boot device given"));
    if (st_.cipher_auto) {
      if (auto cached = eng_.cached_cipher(bmc_key_)) st_.ciphers = {*cached};
    }
    hs_.privilege = st_.privilege;
    hs_.name_only_lookup = IPMI_NAME_ONLY_LOOKUP;

    if (slot_.is_connected()) {
      slot_.assign([w = weak_from_this()](asio::cancellation_type type) {
        if (auto s = w.lock()) s->on_cancel(type);
      });
    }
    if (Clock::now() >= deadline_)
      return finish(Outcome::failure(ErrorKind::Timeout, "deadline passed before start"));
    arm_deadline();

    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host_, ec);
    if (!ec) return have_address(udp::endpoint(addr, port_));
    sent_ = Sent::Resolve;
    resolver_ = std::make_unique<udp::resolver>(eng_.executor());
    resolver_->async_resolve(
        udp::v4(), host_, std::to_string(port_),
        [w = weak_from_this()](boost::system::error_code rec, udp::resolver::results_type res) {
          auto s = w.lock();
          if (!s || s->finished_) return;
          if (rec || res.empty())
            return s->finish(Outcome::failure(
                ErrorKind::Connection, fmt::format("cannot resolve BMC address '{}': {}", s->host_,
                                                   rec ? rec.message() : "no IPv4 address")));
          s->have_address(res.begin()->endpoint());
        });
  }

  /// A datagram for this session (by session id, or by peer for pre-session replies).
  /// Returns true when consumed.
  bool on_datagram(const Peek& pk, ByteView pkt) {
    if (finished_) return false;
    std::string err;
    switch (sent_) {
      case Sent::GetChannelAuthCaps: {
        if (pk.rmcpplus) return false;
        AuthCaps caps;
        if (parse_get_channel_auth_caps(pkt, rq_seq_, caps, &err) != ParseResult::Ok) return false;
        got_reply();
        if (caps.comp_code != 0)
          return fail(
              completion_code_kind(caps.comp_code),
              fmt::format("Get Channel Authentication Capabilities failed: {}",
                          completion_code_text(IPMI_NET_FN_APP_RQ,
                                               IPMI_CMD_GET_CHANNEL_AUTHENTICATION_CAPABILITIES,
                                               caps.comp_code)));
        if (!caps.ipmi20 && !workaround("authcap"))
          return fail(ErrorKind::Unsupported,
                      "BMC does not offer IPMI 2.0 (RMCP+/lanplus) on this channel");
        send_open_session();
        return true;
      }
      case Sent::OpenSession: {
        SetupReply r;
        if (!pk.rmcpplus || parse_open_session_response(pkt, tag_, r, &err) != ParseResult::Ok)
          return false;
        got_reply();
        int suite = st_.ciphers[cipher_idx_];
        if (r.status != 0) {
          if (rmcpplus_status_is_cipher_refusal(r.status) && cipher_idx_ + 1 < st_.ciphers.size()) {
            facts_.emplace_back(fmt::format("cipher_{}", suite),
                                "refused: " + rmcpplus_status_text(r.status));
            ++cipher_idx_;
            send_open_session();
            return true;
          }
          if (rmcpplus_status_is_cipher_refusal(r.status))
            return fail(ErrorKind::Unsupported,
                        fmt::format("cipher suite {} not supported by the BMC: {}", suite,
                                    rmcpplus_status_text(r.status)));
          if (rmcpplus_status_kind(r.status) == ErrorKind::Busy) {
            // No free session slot right now: try again while the deadline allows.
            auto wait = eng_.options().busy_retry + eng_.jitter();
            if (Clock::now() + wait < deadline_) {
              ++busy_count_;
              busy_wait_ = true;
              disarm_retransmit();
              retx_timer_.expires_after(wait);
              retx_timer_.async_wait([w = weak_from_this(), gen = retx_gen_](boost::system::error_code ec) {
                if (ec) return;
                auto s = w.lock();
                if (!s || s->finished_ || gen != s->retx_gen_) return;  // superseded
                s->busy_wait_ = false;
                s->send_open_session();
              });
              return true;
            }
          }
          return fail(rmcpplus_status_kind(r.status),
                      fmt::format("Open Session refused: {}", rmcpplus_status_text(r.status)));
        }
        if (r.console_sid != hs_.console_sid) return false;
        if (r.alg.authentication != alg_.authentication || r.alg.integrity != alg_.integrity ||
            r.alg.confidentiality != alg_.confidentiality)
          return fail(ErrorKind::Protocol,
                      fmt::format("BMC answered cipher suite {} with other algorithms", suite));
        if (r.max_privilege < hs_.privilege && !workaround("opensesspriv"))
          return fail(ErrorKind::Privilege,
                      fmt::format("BMC grants at most {} privilege, {} was requested",
                                  privilege_name(r.max_privilege), privilege_name(hs_.privilege)));
        hs_.bmc_sid = r.bmc_sid;
        bmc_sid_known_ = true;
        // No fallback generator: the session keys derive from this number, so a kernel without
        // getrandom(2) (Linux before 3.17) fails the session.
        if (!secure_random(hs_.console_random.data(), hs_.console_random.size()))
          return fail(ErrorKind::Internal,
                      "no random numbers from the kernel (getrandom) for the RAKP 1 console random");
        Bytes out;
        if (!build_rakp1(next_tag(), hs_, st_.creds, out, &err))
          return fail(ErrorKind::Internal, err);
        send_new(Sent::Rakp1, std::move(out));
        return true;
      }
      case Sent::Rakp1: {
        SetupReply r;
        bool auth_ok = false;
        if (!pk.rmcpplus) return false;
        auto pr = parse_rakp2(pkt, tag_, hs_, st_.creds, alg_, r, auth_ok, &err);
        if (pr == ParseResult::Ignore) return false;
        got_reply();
        if (pr == ParseResult::Invalid) return fail(ErrorKind::Protocol, "bad RAKP 2: " + err);
        if (r.status == RMCPPLUS_STATUS_UNAUTHORIZED_NAME ||
            r.status == RMCPPLUS_STATUS_INVALID_NAME_LENGTH)
          return fail(ErrorKind::Auth,
                      fmt::format("unknown user '{}' (RAKP 2: {})", st_.creds.username,
                                  rmcpplus_status_text(r.status)));
        if (r.status != 0)
          return fail(rmcpplus_status_kind(r.status),
                      fmt::format("RAKP 2 refused: {}", rmcpplus_status_text(r.status)));
        if (!auth_ok) {
          // Tell the BMC to drop the half-open session, then report.
          Bytes abort_pkt;
          if (build_rakp3(next_tag(), RMCPPLUS_STATUS_INVALID_INTEGRITY_CHECK_VALUE, hs_, st_.creds,
                          alg_, abort_pkt, nullptr))
            eng_.send(sock_, peer_, abort_pkt);
          return fail(ErrorKind::Auth, "wrong password (RAKP 2 key exchange code does not match)");
        }
        if (!compute_session_keys(hs_, st_.creds, alg_, keys_, &err))
          return fail(ErrorKind::Internal, err);
        Bytes out;
        if (!build_rakp3(next_tag(), 0, hs_, st_.creds, alg_, out, &err))
          return fail(ErrorKind::Internal, err);
        send_new(Sent::Rakp3, std::move(out));
        return true;
      }
      case Sent::Rakp3: {
        SetupReply r;
        bool icv_ok = false;
        if (!pk.rmcpplus) return false;
        auto pr = parse_rakp4(pkt, tag_, hs_, keys_, r, icv_ok, &err);
        if (pr == ParseResult::Ignore) return false;
        got_reply();
        if (pr == ParseResult::Invalid) return fail(ErrorKind::Protocol, "bad RAKP 4: " + err);
        if (r.status != 0)
          return fail(rmcpplus_status_kind(r.status) == ErrorKind::Protocol
                          ? ErrorKind::Auth
                          : rmcpplus_status_kind(r.status),
                      fmt::format("BMC rejected RAKP 3: {}", rmcpplus_status_text(r.status)));
        if (!icv_ok)
          return fail(ErrorKind::Auth, "wrong K_g key (RAKP 4 integrity check value mismatch)");
        established_ = true;
        if (st_.cipher_auto) eng_.cache_cipher(bmc_key_, st_.ciphers[cipher_idx_]);
        facts_.emplace_back("cipher_suite", std::to_string(st_.ciphers[cipher_idx_]));
        facts_.emplace_back("privilege", std::string(privilege_name(hs_.privilege)));
        // An active RMCP+ session runs at User level until raised.  Get Chassis Status needs
        // no more, so a status read skips Set Session Privilege Level (one round trip of
        // seven), and so does the read before a power action: the session is raised only
        // once that read has decided to act (a node already in the state costs no raise).
        // Should a BMC refuse the read with "insufficient privilege", the session is raised
        // then and the read repeated (handle_reply).
        if (may_raise() && req_.action != Action::Status && !reads_before_acting())
          return raise_privilege(), true;
        start_action();
        return true;
      }
      case Sent::Nothing:
      case Sent::Resolve:
        return false;
      default:
        break;
    }
    // A RAKP 4 that arrives while the session is being probed: the session is active (its
    // integrity check proves it); keep waiting for the probe's reply, never restart.
    if (probing_ && !probe_confirmed_ && sent_ == Sent::SetSessionPrivilege && pk.rmcpplus &&
        pk.payload_type != IPMI_PAYLOAD_TYPE_IPMI) {
      SetupReply r;
      bool icv_ok = false;
      if (parse_rakp4(pkt, tag_, hs_, keys_, r, icv_ok, &err) == ParseResult::Ok &&
          r.status == 0 && icv_ok) {
        got_reply();
        probe_confirmed_ = true;
        facts_.emplace_back("confirmed", "late RAKP 4 while probing");
        return true;
      }
      return false;
    }
    // In-session replies.
    if (!pk.rmcpplus || pk.payload_type != IPMI_PAYLOAD_TYPE_IPMI) return false;
    if (control_waiting_ && sent_ != Sent::ChassisControl && sent_ != Sent::CloseSession) {
      // The reply to a Chassis Control we stopped waiting for may still arrive late.
      FiidObj late(tmpl_cmd_chassis_control_rs);
      if (parse_session_reply(keys_, hs_.console_sid, pkt, IPMI_NET_FN_CHASSIS_RQ,
                              IPMI_CMD_CHASSIS_CONTROL, control_rq_seq_, late.get(),
                              &err) == ParseResult::Ok) {
        got_reply();
        sent_ = Sent::ChassisControl;
        confirming_ = false;
        facts_.emplace_back("confirmed", "late Chassis Control reply");
        std::uint64_t lcc = 0;
        late.u64("comp_code", lcc);
        if (lcc == 0) {
          control_waiting_ = false;
          return conclude(Outcome::success("ok")), true;
        }
        // An error reply: handled below like any other.
        return handle_reply(late), true;
      }
    }
    auto ci = cmd_info(sent_);
    auto* tmpl = reply_template(sent_);
    if (!tmpl) return false;
    FiidObj rs(*tmpl);
    if (parse_session_reply(keys_, hs_.console_sid, pkt, ci.netfn, ci.cmd, rq_seq_, rs.get(),
                            &err) != ParseResult::Ok)
      return false;
    got_reply();
    handle_reply(rs);
    return true;
  }

 private:
  void handle_reply(const FiidObj& rs) {
    auto ci = cmd_info(sent_);
    std::uint64_t cc = 0;
    rs.u64("comp_code", cc);
    if (sent_ == Sent::ChassisControl) control_waiting_ = false;
    if (sent_ == Sent::CloseSession) {
      if (cc == 0) ++eng_.stats().sessions_closed;
      return finish(take_pending());
    }
    if (cc == IPMI_COMP_CODE_NODE_BUSY) return retry_busy(ci);
    // The read after an accepted on/off failed: the action stands, the fleet layer polls.
    if (cc != 0 && reading_after_) return conclude(accepted_without_read());
    if (cc != 0 && sent_ == Sent::GetPowerReading &&
        completion_code_kind(static_cast<std::uint8_t>(cc)) == ErrorKind::Unsupported) {
      // No DCMI (or no power meter): the node answered, it just has no reading.  Never zero.
      Outcome o = Outcome::success("no reading (DCMI not supported)", reading_state_);
      o.reading_note = "DCMI not supported: " +
                       completion_code_text(ci.netfn, ci.cmd, static_cast<std::uint8_t>(cc));
      return conclude(std::move(o));
    }
    if (cc != 0 && sent_ == Sent::GetCipherSuites) {
      // Optional for a probe: say why the list is missing, keep the result.
      facts_.emplace_back(
          "cipher_suites",
          "unknown: " + completion_code_text(ci.netfn, ci.cmd, static_cast<std::uint8_t>(cc)));
      return conclude(Outcome::success(probe_result_));
    }
    if (cc != 0) {
      auto kind = completion_code_kind(static_cast<std::uint8_t>(cc));
      std::string what(ci.name);
      if (sent_ == Sent::ChassisControl) what += fmt::format(" ({})", control_name(req_.action));
      std::string text = completion_code_text(ci.netfn, ci.cmd, static_cast<std::uint8_t>(cc));
      if (kind == ErrorKind::Unsupported)
        return (void)fail(kind, fmt::format("BMC does not support {}: {}", what, text));
      if (kind == ErrorKind::Privilege && !raised_ && may_raise() && sent_ == Sent::GetChassisStatus) {
        trace("{} refused at User level ({}): raising the session to {}", what, text,
              privilege_name(hs_.privilege));
        return (void)raise_privilege();
      }
      if (kind == ErrorKind::Privilege)
        return (void)fail(kind, fmt::format("insufficient privilege for {} (session is {}): {}",
                                            what, privilege_name(hs_.privilege), text));
      return (void)fail(kind, fmt::format("{} failed: {}", what, text));
    }
    on_command_ok(rs);
  }

  // ---- flow ----------------------------------------------------------------------------------
  void have_address(udp::endpoint ep) {
    if (!ep.address().is_v4())
      return finish(Outcome::failure(
          ErrorKind::Config, "IPv6 BMC addresses are not supported by the ipmi backend yet"));
    peer_ = ep;
    eng_.attach_peer(this);
    Bytes out;
    std::string err;
    if (!build_get_channel_auth_caps(next_rq_seq(), hs_.privilege, out, &err))
      return finish(Outcome::failure(ErrorKind::Internal, err));
    send_new(Sent::GetChannelAuthCaps, std::move(out));
  }

  void send_open_session() {
    std::string err;
    if (!cipher_suite_algorithms(st_.ciphers[cipher_idx_], alg_))
      return (void)fail(ErrorKind::Config,
                        fmt::format("cipher suite {} unknown", st_.ciphers[cipher_idx_]));
    Bytes out;
    if (!build_open_session(next_tag(), hs_, alg_, out, &err))
      return (void)fail(ErrorKind::Internal, err);
    send_new(Sent::OpenSession, std::move(out));
  }

  void start_action() {
    std::string err;
    if (reads_before_acting()) {
      // Read, decide, act in this one session (the fleet layer's two exchanges in one).
      reading_before_ = true;
      return send_simple(Sent::GetChassisStatus);
    }
    switch (req_.action) {
      case Action::Status:
        return send_simple(Sent::GetChassisStatus);
      case Action::On:
      case Action::Off:
      case Action::Cycle:
      case Action::Reset:
      case Action::Soft:
      case Action::Nmi:
        return send_control();
      case Action::Identify: {
        FiidObj rq(tmpl_cmd_chassis_identify_rq);
        std::uint8_t interval = 0, force = IPMI_CHASSIS_FORCE_IDENTIFY_ON;
        int r;
        if (req_.identify_seconds < 0) {
          interval = 0;
          r = fill_cmd_chassis_identify(&interval, nullptr, rq.get());
        } else if (req_.identify_seconds == 0) {
          interval = 0xFF;  // must accompany the force flag
          r = fill_cmd_chassis_identify(&interval, &force, rq.get());
        } else {
          interval = static_cast<std::uint8_t>(std::min(req_.identify_seconds, 255));
          r = fill_cmd_chassis_identify(&interval, nullptr, rq.get());
        }
        if (r < 0) return (void)fail(ErrorKind::Internal, "cannot fill Chassis Identify");
        return send_command(Sent::ChassisIdentify, rq.get());
      }
      case Action::BootDev: {
        FiidObj rq(tmpl_cmd_set_system_boot_options_boot_flags_rq);
        if (fill_cmd_set_system_boot_options_boot_flags(
                IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED,
                req_.efi ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI
                         : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_PC_COMPATIBLE,
                req_.persistent ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_PERSISTENTLY
                                : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_FOR_NEXT_BOOT,
                IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID, 0, 0, boot_code(req_.bootdev), 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, rq.get()) < 0)
          return (void)fail(ErrorKind::Internal, "cannot fill Set System Boot Options");
        return send_command(Sent::SetBootFlags, rq.get());
      }
      case Action::Probe:
        return send_simple(Sent::GetDeviceId);
      case Action::PowerReading:
        // The power state first (a reading of an off node means standby draw), then DCMI.
        return send_simple(Sent::GetChassisStatus);
    }
    fail(ErrorKind::Internal, "unknown action");
  }

  void send_simple(Sent what) {
    if (what == Sent::GetChassisStatus) {
      FiidObj rq(tmpl_cmd_get_chassis_status_rq);
      fill_cmd_get_chassis_status(rq.get());
      return send_command(what, rq.get());
    }
    if (what == Sent::GetDeviceId) {
      FiidObj rq(tmpl_cmd_get_device_id_rq);
      fill_cmd_get_device_id(rq.get());
      return send_command(what, rq.get());
    }
    if (what == Sent::GetBootFlags) {
      FiidObj rq(tmpl_cmd_get_system_boot_options_rq);
      fill_cmd_get_system_boot_options(IPMI_SYSTEM_BOOT_OPTION_PARAMETER_BOOT_FLAGS, 0, 0,
                                       rq.get());
      return send_command(what, rq.get());
    }
  }

  void send_power_reading() {
    FiidObj rq(tmpl_cmd_dcmi_get_power_reading_rq);
    if (fill_cmd_dcmi_get_power_reading(IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS, 0,
                                        rq.get()) < 0)
      return (void)fail(ErrorKind::Internal, "cannot fill DCMI Get Power Reading");
    send_command(Sent::GetPowerReading, rq.get());
  }

  void on_power_reading(const FiidObj& rs) {
    std::uint64_t gid = 0, cur = 0, active = 0;
    if (!rs.u64("group_extension_identification", gid) || !rs.u64("current_power", cur))
      return (void)fail(ErrorKind::Protocol, "DCMI Get Power Reading reply too short");
    if (gid != IPMI_NET_FN_GROUP_EXTENSION_IDENTIFICATION_DCMI)
      return (void)fail(ErrorKind::Protocol,
                        fmt::format("DCMI Get Power Reading answered for group 0x{:02X}", gid));
    rs.u64("power_reading_state.power_measurement", active);
    if (!active) {
      Outcome o = Outcome::success("no reading (power measurement not active)", reading_state_);
      o.reading_note = "DCMI power measurement not active";
      return conclude(std::move(o));
    }
    Outcome o = Outcome::success(fmt::format("{} W", cur), reading_state_);
    o.watts = static_cast<double>(cur);
    std::uint64_t v = 0;
    if (rs.u64("average_power_over_sampling_duration", v))
      facts_.emplace_back("average_watts", std::to_string(v));
    if (rs.u64("statistics_reporting_time_period", v))
      facts_.emplace_back("sampling_period_ms", std::to_string(v));
    facts_.emplace_back("reading_source", "dcmi");
    conclude(std::move(o));
  }

  void send_control() {
    FiidObj rq(tmpl_cmd_chassis_control_rq);
    if (fill_cmd_chassis_control(control_code(req_.action), rq.get()) < 0)
      return (void)fail(ErrorKind::Internal, "cannot fill Chassis Control");
    ++control_sends_;
    send_command(Sent::ChassisControl, rq.get());
    control_rq_seq_ = rq_seq_;
    control_waiting_ = true;
  }

  /// A new in-session request: fresh session sequence number and rq_seq.
  void send_command(Sent what, fiid_obj_t rq) {
    auto ci = cmd_info(what);
    if (++session_seq_ == 0) ++session_seq_;  // 0 is not a valid sequence number
    Bytes out;
    std::string err;
    if (!build_session_request(keys_, hs_.bmc_sid, session_seq_, ci.netfn, next_rq_seq(), rq, out,
                               &err))
      return (void)fail(ErrorKind::Internal, err);
    send_new(what, std::move(out));
  }

  void on_command_ok(const FiidObj& rs) {
    switch (sent_) {
      case Sent::SetSessionPrivilege:
        probing_ = false;
        rakp3_.clear();
        if (control_after_raise_) {
          control_after_raise_ = false;  // the state is read and calls for the action
          return send_control();
        }
        return start_action();
      case Sent::GetChassisStatus:
        return on_chassis_status(rs);
      case Sent::ChassisControl:
        if (confirm_note_) facts_.emplace_back("confirmed", "control re-sent after state check");
        // Accepted.  On and off: read the state in the same session (one more round trip, no
        // new handshake); a node that switched at once is verified without a poll.  Otherwise
        // (and when that read fails) the fleet layer verifies the end state by polling.
        if ((req_.action == Action::On || req_.action == Action::Off) &&
            eng_.options().read_after_control && req_.read_back &&
            deadline_ - Clock::now() > eng_.options().retransmit_base * 2) {
          reading_after_ = true;
          return send_simple(Sent::GetChassisStatus);
        }
        return conclude(Outcome::success("ok"));
      case Sent::ChassisIdentify: {
        std::string r =
            req_.identify_seconds < 0 ? "ok (identify off)"
            : req_.identify_seconds == 0
                ? "ok (identify on)"
                : fmt::format("ok (identify {}s)", std::min(req_.identify_seconds, 255));
        return conclude(Outcome::success(std::move(r)));
      }
      case Sent::SetBootFlags:
        return send_simple(Sent::GetBootFlags);
      case Sent::GetBootFlags: {
        std::uint64_t dev = 0, pers = 0, efi = 0, valid = 0;
        rs.u64("boot_device", dev);
        rs.u64("boot_flags_persistent", pers);
        rs.u64("bios_boot_type", efi);
        rs.u64("boot_flags_valid", valid);
        std::string got = fmt::format("{} ({}{})", boot_code_name(dev),
                                      pers ? "persistent" : "once", efi ? ", efi" : "");
        facts_.emplace_back("bootdev_readback", got);
        if (dev != boot_code(req_.bootdev))
          return (void)fail(ErrorKind::BmcError,
                            fmt::format("BMC accepted boot device {} but reads back {}",
                                        boot_device_name(req_.bootdev), got));
        std::string want =
            fmt::format("{} ({}{})", boot_device_name(req_.bootdev),
                        req_.persistent ? "persistent" : "once", req_.efi ? ", efi" : "");
        // The device is what matters; some BMCs (ipmi_sim) keep only the device and drop the
        // valid/persistent/EFI bits: say so rather than fail.
        if (!valid || bool(pers) != req_.persistent || bool(efi) != req_.efi)
          facts_.emplace_back("bootdev_warning",
                              fmt::format("BMC reads back {}{}; flags as requested not confirmed",
                                          got, valid ? "" : " with the valid bit clear"));
        return conclude(Outcome::success(want));
      }
      case Sent::GetDeviceId:
        return on_device_id(rs);
      case Sent::GetCipherSuites:
        return on_cipher_suites(rs);
      case Sent::GetPowerReading:
        return on_power_reading(rs);
      default:
        return;
    }
  }

  void on_chassis_status(const FiidObj& rs) {
    std::uint64_t on = 0;
    if (!rs.u64("current_power_state.power_is_on", on))
      return (void)fail(ErrorKind::Protocol, "Get Chassis Status reply too short");
    PowerState st = on ? PowerState::On : PowerState::Off;
    if (reading_before_) {
      reading_before_ = false;
      facts_.emplace_back("state_before", std::string(power_state_name(st)));
      PowerDecision d = decide_power(req_.action, st);
      if (!d.send) {
        facts_.emplace_back("acted", "none");
        return conclude(Outcome::success(d.result, st));
      }
      req_.action = d.action;
      facts_.emplace_back("acted", std::string(action_name(d.action)));
      facts_.emplace_back("read_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::now() - started_).count()));
      if (final_deadline_ > read_deadline_) {
        // The state is read: the action and its read-back get one operation's time from now
        // (the span the caller gave beyond the read's deadline), as a separate action would.
        deadline_ = std::min(final_deadline_, Clock::now() + (final_deadline_ - read_deadline_));
        arm_deadline();  // expires_at cancels the wait for the read's deadline
      }
      if (may_raise() && !raised_) {
        control_after_raise_ = true;
        return (void)raise_privilege();
      }
      return send_control();
    }
    if (reading_after_) {
      reading_after_ = false;
      facts_.emplace_back("state_after", std::string(power_state_name(st)));
      return conclude(Outcome::success("ok", st));
    }
    if (confirming_) {
      // A Chassis Control reply did not come: the state tells whether it was acted on.
      confirming_ = false;
      state_after_loss_ = st;
      bool done_by_state =
          st == expected_state() ||
          ((req_.action == Action::Soft || req_.action == Action::Cycle) && st == PowerState::Off);
      if (done_by_state) {
        control_waiting_ = false;
        facts_.emplace_back("state_after", std::string(power_state_name(st)));
        facts_.emplace_back("confirmed", fmt::format("power {} read after the Chassis Control "
                                                     "reply was lost",
                                                     power_state_name(st)));
        return conclude(Outcome::success("ok", st));
      }
      if (is_idempotent_control(req_.action) && control_sends_ < 3) {
        confirm_note_ = true;
        return send_control();  // on/off: idempotent, safe to send again
      }
      // Cycle/reset/nmi (or soft with power still on): never sent twice.  Keep listening for
      // the late reply until the deadline.
      sent_ = Sent::ChassisControl;
      resend_blocked_ = true;
      disarm_retransmit();
      retx_timer_.cancel();
      return;
    }
    if (req_.action == Action::PowerReading) {
      reading_state_ = st;
      return send_power_reading();
    }
    Outcome o = Outcome::success(on ? "on" : "off", st);
    struct Bit {
      const char* field;
      const char* name;
    };
    static constexpr Bit faults[] = {
        {"current_power_state.power_overload", "power overload"},
        {"current_power_state.interlock", "interlock"},
        {"current_power_state.power_fault", "power fault"},
        {"current_power_state.power_control_fault", "power control fault"},
        {"misc_chassis_state.drive_fault", "drive fault"},
        {"misc_chassis_state.cooling_fan_fault_detected", "cooling/fan fault"},
        {"misc_chassis_state.chassis_intrusion_active", "chassis intrusion"},
    };
    std::string fl;
    for (const auto& b : faults) {
      std::uint64_t v = 0;
      if (rs.u64(b.field, v) && v) fl += fl.empty() ? b.name : std::string(", ") + b.name;
    }
    if (!fl.empty()) facts_.emplace_back("faults", fl);
    static constexpr Bit events[] = {
        {"last_power_event.ac_failed", "ac failed"},
        {"last_power_event.power_down_caused_by_power_overload", "power down by overload"},
        {"last_power_event.power_down_caused_by_power_interlock_being_activated",
         "power down by interlock"},
        {"last_power_event.power_down_caused_by_power_fault", "power down by fault"},
        {"last_power_event.power_on_entered_via_ipmi", "power on via ipmi"},
    };
    std::string ev;
    for (const auto& b : events) {
      std::uint64_t v = 0;
      if (rs.u64(b.field, v) && v) ev += ev.empty() ? b.name : std::string(", ") + b.name;
    }
    if (!ev.empty()) facts_.emplace_back("last_power_event", ev);
    std::uint64_t pol = 0;
    if (rs.u64("current_power_state.power_restore_policy", pol)) {
      static constexpr const char* names[] = {"always-off", "previous", "always-on", "unknown"};
      facts_.emplace_back("power_restore_policy", names[pol & 3]);
    }
    std::uint64_t idsup = 0, idst = 0;
    if (rs.u64("misc_chassis_state.chassis_identify_command_and_state_info_supported", idsup) &&
        idsup && rs.u64("misc_chassis_state.chassis_identify_state", idst)) {
      static constexpr const char* names[] = {"off", "temporary on", "indefinite on", "reserved"};
      facts_.emplace_back("identify", names[idst & 3]);
    }
    conclude(std::move(o));
  }

  void on_device_id(const FiidObj& rs) {
    std::uint64_t mfg = 0, prod = 0, maj = 0, min = 0, dev = 0, vmaj = 0, vmin = 0;
    rs.u64("manufacturer_id.id", mfg);
    rs.u64("product_id", prod);
    rs.u64("firmware_revision1.major_revision", maj);
    rs.u64("firmware_revision2.minor_revision", min);
    rs.u64("device_id", dev);
    rs.u64("ipmi_version_major", vmaj);
    rs.u64("ipmi_version_minor", vmin);
    std::string fw = fmt::format("{}.{:02x}", maj, min);  // minor revision is BCD
    facts_.emplace_back("manufacturer_id", std::to_string(mfg));
    char name[128] = {};
    if (ipmi_iana_enterprise_numbers_string(static_cast<std::uint32_t>(mfg), name,
                                            sizeof name - 1) > 0)
      facts_.emplace_back("manufacturer", name);
    facts_.emplace_back("product_id", std::to_string(prod));
    facts_.emplace_back("firmware", fw);
    facts_.emplace_back("device_id", std::to_string(dev));
    facts_.emplace_back("ipmi_version", fmt::format("{}.{}", vmaj, vmin));
    probe_result_ = fmt::format("manufacturer {} product {} firmware {}", mfg, prod, fw);
    if (auto* reg = eng_.options().plugins.get()) {
      const plugin::Plugin* p = plugin_;
      if (vendor_auto_)
        p = reg->detect(plugin::IpmiIdentity{static_cast<std::uint32_t>(mfg), static_cast<std::uint32_t>(prod)});
      if (p) facts_.emplace_back("plugin", p->desc.name);
    }
    cs_index_ = 0;
    cs_records_.clear();
    send_cipher_suites();
  }

  /// Get Channel Cipher Suites, one 16-byte list page at a time.
  void send_cipher_suites() {
    FiidObj rq(tmpl_cmd_get_channel_cipher_suites_rq);
    if (fill_cmd_get_channel_cipher_suites(IPMI_CHANNEL_NUMBER_CURRENT_CHANNEL,
                                           IPMI_PAYLOAD_TYPE_IPMI, cs_index_,
                                           IPMI_LIST_ALGORITHMS_BY_CIPHER_SUITE, rq.get()) < 0)
      return conclude(Outcome::success(probe_result_));
    send_command(Sent::GetCipherSuites, rq.get());
  }

  void on_cipher_suites(const FiidObj& rs) {
    std::uint8_t page[16];
    int n = rs.data("cipher_suite_record_data", page, sizeof page);
    if (n > 0) cs_records_.insert(cs_records_.end(), page, page + n);
    if (n == 16 && ++cs_index_ < 64) return send_cipher_suites();
    // Records: 0xC0 <id> <algorithms...>, or 0xC1 <id> <IANA x3> <algorithms...> (OEM).
    std::string list;
    for (std::size_t i = 0; i + 1 < cs_records_.size(); ++i) {
      if (cs_records_[i] != 0xC0 && cs_records_[i] != 0xC1) continue;
      list += (list.empty() ? "" : ",") + std::to_string(cs_records_[i + 1]);
      i += cs_records_[i] == 0xC1 ? 4 : 1;
    }
    facts_.emplace_back("cipher_suites", list.empty() ? "none listed" : list);
    conclude(Outcome::success(probe_result_));
  }

  PowerState expected_state() const {
    switch (req_.action) {
      case Action::On:
        return PowerState::On;
      case Action::Off:
        return PowerState::Off;
      default:
        return PowerState::Unknown;
    }
  }

  void retry_busy(const CmdInfo& ci) {
    ++busy_count_;
    auto wait = eng_.options().busy_retry + eng_.jitter();
    if (Clock::now() + wait >= deadline_)
      return (void)fail(ErrorKind::Busy,
                        fmt::format("BMC busy (0xC0) for {} until the deadline ({} tries)", ci.name,
                                    busy_count_));
    Sent what = sent_;
    busy_wait_ = true;
    disarm_retransmit();
    retx_timer_.expires_after(wait);
    retx_timer_.async_wait([w = weak_from_this(), what, gen = retx_gen_](boost::system::error_code ec) {
      if (ec) return;
      auto s = w.lock();
      // Superseded: a later reply (to an earlier copy) moved the session on meanwhile.
      if (!s || s->finished_ || gen != s->retx_gen_) return;
      s->busy_wait_ = false;
      s->resend_fresh(what);
    });
  }

  /// After 0xC0 the request was not executed: build it again with new sequence numbers.
  void resend_fresh(Sent what) {
    switch (what) {
      case Sent::SetSessionPrivilege:
        return (void)raise_privilege();
      case Sent::ChassisControl:
        return send_control();
      case Sent::GetPowerReading:
        return send_power_reading();
      case Sent::GetChassisStatus:
      case Sent::GetDeviceId:
      case Sent::GetBootFlags:
        return send_simple(what);
      default:
        return start_action();  // identify, boot flags: rebuilt from the request
    }
  }

  // ---- transmission and retransmission -------------------------------------------------------
  void send_new(Sent what, Bytes pkt) {
    busy_wait_ = false;  // a new request ends any wait after 0xC0 (its handler is superseded)
    sent_ = what;
    last_ = std::move(pkt);
    tries_ = 0;
    first_sent_ = Clock::now();
    trace("sends, awaiting {}", awaited_name(what));
    transmit();
    arm_retransmit();
  }

  /// -vvv: the exchange, step by step, with the time since the operation started.
  template <class... A>
  void trace(fmt::format_string<A...> f, A&&... a) {
    if (!spdlog::should_log(spdlog::level::trace)) return;
    spdlog::trace("{} ({}): +{} ms: {}", target_name_, host_,
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count(),
                  fmt::format(f, std::forward<A>(a)...));
  }

  void transmit() { eng_.send(sock_, peer_, last_); }

  void arm_retransmit() {
    const auto& o = eng_.options();
    std::chrono::milliseconds wait;
    if (sent_ == Sent::CloseSession) {
      wait = o.close_grace;  // a close is never retransmitted; just wait a little for the reply
    } else {
      double f = std::pow(o.retransmit_backoff, std::max(0, tries_ - o.retransmit_flat));
      wait = std::min(std::chrono::milliseconds(static_cast<long>(o.retransmit_base.count() * f)),
                      o.retransmit_max) +
             eng_.jitter();
    }
    const auto due = Clock::now() + wait;
    retx_due_ = due;
    // A wait already pending that ends no later than the new time is kept, and waits the rest
    // when it fires.  Re-arming for every request cancelled a wait each time, and a cancelled
    // wait holds its handler's memory until the loop gets round to it: at the peak of a status
    // of 500 BMCs about three per session.  A wait due later than the new time is replaced.
    if (retx_armed_ && retx_timer_.expiry() <= due) return;
    wait_retransmit(due);
  }

  void wait_retransmit(Clock::time_point due) {
    retx_armed_ = true;
    retx_timer_.expires_at(due);  // a wait still pending ends with a stale generation
    retx_timer_.async_wait([w = weak_from_this(), gen = ++retx_gen_](boost::system::error_code ec) {
      if (ec) return;
      auto s = w.lock();
      if (!s || gen != s->retx_gen_) return;
      if (Clock::now() < s->retx_due_) return s->wait_retransmit(s->retx_due_);
      s->retx_armed_ = false;
      s->on_retransmit_timer();
    });
  }

  /// Before any other use of retx_timer_ (busy waits, the close grace, the end): a pending
  /// retransmit wait is void from here on.
  void disarm_retransmit() {
    ++retx_gen_;
    retx_armed_ = false;
  }

  void on_retransmit_timer() {
    if (finished_ || busy_wait_) return;
    if (sent_ == Sent::CloseSession) return finish(take_pending());
    // No Chassis Control reply: never send the control again blindly (ipmi_sim, like many
    // BMCs, executes a duplicate packet a second time).  Read the state instead.
    if (sent_ == Sent::ChassisControl) {
      if (resend_blocked_) return;
      confirming_ = true;
      return send_simple(Sent::GetChassisStatus);
    }
    // A lost RAKP 4 cannot be recovered by repeating RAKP 3 (ipmi_sim ignores the duplicate of
    // an accepted RAKP 3).  The session may well be active: probe it with Set Session
    // Privilege Level; if that stays unanswered too, start over with a new session id.
    // Only once the reply is overdue by the path's round trip: on a slow path (replies after
    // 1.2 s) the probe restarted working sessions just before their replies arrived.
    const bool overdue = Clock::now() - first_sent_ >= 2 * rtt_min_;
    // Three copies of each before moving on: a BMC that answers a repeated RAKP 3 from its
    // reply cache recovers a lost RAKP 4 that way, and on a lossy path (20% each way) giving up
    // after two copies restarted one handshake in eight.
    if (sent_ == Sent::Rakp3 && tries_ >= 2 && overdue) return probe_session();
    // A restart throws the first session away, and its late replies with it: only when the
    // probe has gone unanswered for a while (a path that stalls for a second or two under load
    // answered the probe just after the restart), and never once a late RAKP 4 has shown the
    // session to be active.
    if (probing_ && !probe_confirmed_ && sent_ == Sent::SetSessionPrivilege && tries_ >= 3 &&
        Clock::now() - first_sent_ >= std::max<std::chrono::milliseconds>(
                                           3 * rtt_min_, eng_.options().probe_patience))
      return restart_handshake();
    // Everything else: the identical packet (same session sequence number and rq_seq).
    trace("no reply yet: copy {} of the request for {}", tries_ + 2, awaited_name(sent_));
    ++tries_;
    ++retransmits_;
    ++eng_.stats().retransmits;
    transmit();
    if (sent_ == Sent::SetSessionPrivilege) resend_rakp3();
    arm_retransmit();
  }

  /// On, off, cycle, reset and soft read the state first (Request::read_first) and decide.
  bool reads_before_acting() const {
    switch (req_.action) {
      case Action::On:
      case Action::Off:
      case Action::Cycle:
      case Action::Reset:
      case Action::Soft:
        return req_.read_first;
      default:
        return false;
    }
  }

  bool may_raise() const { return eng_.options().set_session_privilege && !workaround("nosetsesspriv"); }

  /// Sends Set Session Privilege Level for the requested level; false when it failed the session.
  bool raise_privilege() {
    raised_ = true;
    FiidObj rq(tmpl_cmd_set_session_privilege_level_rq);
    if (fill_cmd_set_session_privilege_level(hs_.privilege, rq.get()) < 0)
      return fail(ErrorKind::Internal, "cannot fill Set Session Privilege Level"), false;
    send_command(Sent::SetSessionPrivilege, rq.get());
    return true;
  }

  void probe_session() {
    established_ = true;  // possibly: a Close Session is due from now on
    probing_ = true;
    // Every copy of RAKP 3 may have been lost on the way (then the session is not active and
    // the probe goes unanswered): further copies go out with each copy of the probe, so that a
    // BMC that has not seen RAKP 3 yet can still activate the session and answer with RAKP 4.
    rakp3_ = last_;
    if (st_.cipher_auto) eng_.cache_cipher(bmc_key_, st_.ciphers[cipher_idx_]);
    facts_.emplace_back("cipher_suite", std::to_string(st_.ciphers[cipher_idx_]));
    facts_.emplace_back("privilege", std::string(privilege_name(hs_.privilege)));
    if (raise_privilege()) resend_rakp3();
  }

  void resend_rakp3() {
    if (!probing_ || probe_confirmed_ || rakp3_.empty()) return;
    trace("and another copy of RAKP 3");
    eng_.send(sock_, peer_, rakp3_);
  }

  void restart_handshake() {
    trace("restarting the handshake (restart {})", restarts_ + 1);
    if (++restarts_ > 2)
      return (void)abort(Outcome::failure(ErrorKind::Timeout,
                                          "session handshake lost repeatedly (RAKP 4 or the "
                                          "first command never answered)"));
    send_close_packet();  // in case the first session is active after all
    established_ = false;
    probing_ = false;
    raised_ = false;  // the new session starts at User level
    control_after_raise_ = false;
    probe_confirmed_ = false;
    rakp3_.clear();
    facts_.clear();
    keys_.wipe();
    session_seq_ = 0;
    std::uint32_t old = hs_.console_sid;
    hs_.console_sid = eng_.new_session_id();
    eng_.rekey(this, old, hs_.console_sid);
    send_open_session();
  }

  // ---- completion ----------------------------------------------------------------------------
  void got_reply() {
    any_reply_ = true;
    trace("{} arrived ({} ms after the first copy, {} copies sent)", awaited_name(sent_),
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - first_sent_).count(),
          tries_ + 1);
    // Round trip from the first copy of the request (an over-estimate when a retransmission
    // was answered; the minimum over the session's replies is close to the path's).
    auto sample = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - first_sent_);
    if (rtt_min_.count() == 0 || sample < rtt_min_) rtt_min_ = sample;
  }

  std::uint8_t next_rq_seq() {
    rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & IPMI_LAN_REQUESTER_SEQUENCE_NUMBER_MAX);
    return rq_seq_;
  }
  std::uint8_t next_tag() { return ++tag_; }

  /// "3 datagrams from the BMC ignored: 2 malformed or failing their checks, 1 for a stale or
  /// foreign session": tells a garbling path or a replaying peer from a silent one.
  std::string ignored_text() const {
    std::string parts;
    if (ignored_bad_)
      parts += fmt::format("{} not the awaited reply (late duplicates, malformed, or failing a "
                           "check: length, checksum, integrity, sequence)",
                           ignored_bad_);
    if (ignored_foreign_)
      parts += fmt::format("{}{} for a stale or foreign session", parts.empty() ? "" : ", ",
                           ignored_foreign_);
    return fmt::format("{} datagrams from the BMC ignored: {}", ignored_bad_ + ignored_foreign_,
                       parts);
  }

  Outcome timeout_outcome(bool interrupted) const {
    Outcome o = timeout_outcome_plain(interrupted);
    if (!interrupted && any_reply_ && (ignored_bad_ || ignored_foreign_))
      o.reason += " (" + ignored_text() + ")";
    return o;
  }

  Outcome timeout_outcome_plain(bool interrupted) const {
    std::string step(awaited_name(sent_));
    if (interrupted)
      return Outcome::failure(ErrorKind::Interrupted, fmt::format("while waiting for {}", step));
    if (!any_reply_ && (ignored_bad_ || ignored_foreign_))
      return Outcome::failure(ErrorKind::Protocol,
                              fmt::format("no valid reply from BMC while waiting for {}: {}",
                                          step, ignored_text()));
    if (!any_reply_)
      return Outcome::failure(
          ErrorKind::NoResponse,
          "no response from BMC (is the address right? is IPMI-over-LAN enabled?)");
    if (control_waiting_ && !is_idempotent_control(req_.action))
      return Outcome::failure(
          ErrorKind::Timeout,
          fmt::format("timed out waiting for the Chassis Control ({}) reply; not re-issued, the "
                      "BMC may or may not have acted (power reads {})",
                      control_name(req_.action), power_state_name(state_after_loss_)));
    if (confirming_)
      return Outcome::failure(ErrorKind::Timeout,
                              "timed out confirming the power state after a lost Chassis "
                              "Control reply");
    return Outcome::failure(ErrorKind::Timeout,
                            fmt::format("timed out waiting for {}{}", step, hint(sent_)));
  }

  /// An on/off the BMC accepted whose read-back did not complete.
  Outcome accepted_without_read() {
    reading_after_ = false;
    return Outcome::success("ok");
  }

  void on_deadline() {
    if (finished_) return;
    if (closing_) return finish(take_pending());
    if (reading_after_) return abort(accepted_without_read());
    abort(timeout_outcome(false));
  }

  void on_cancel(asio::cancellation_type type) {
    if (finished_) return;
    bool interrupted = (type & asio::cancellation_type::terminal) != asio::cancellation_type::none;
    if (closing_) {
      // The operation itself is complete; only the close is pending.
      return finish(take_pending());
    }
    if (reading_after_) return abort(accepted_without_read());
    abort(timeout_outcome(interrupted));
  }

  /// Stop now: best-effort Close Session (one packet, no wait) and complete.
  void abort(Outcome o) {
    if (established_ && !closing_) send_close_packet();
    finish(std::move(o));
  }

  bool fail(ErrorKind k, std::string reason) {
    conclude(Outcome::failure(k, std::move(reason)));
    return true;
  }

  /// The operation has its result; close the session (waiting briefly for the reply) first.
  void conclude(Outcome o) {
    if (finished_) return;
    if (!established_ || closing_) return finish(std::move(o));
    pending_ = std::make_unique<Outcome>(std::move(o));
    closing_ = true;
    send_close_packet();
    sent_ = Sent::CloseSession;
    disarm_retransmit();
    retx_timer_.cancel();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    auto wait = std::max(std::chrono::milliseconds(0), std::min(eng_.options().close_grace, left));
    retx_timer_.expires_after(wait);
    retx_timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      auto s = w.lock();
      if (s && !s->finished_) s->finish(s->take_pending());
    });
  }

  void send_close_packet() {
    FiidObj rq(tmpl_cmd_close_session_rq);
    if (fill_cmd_close_session(hs_.bmc_sid, nullptr, rq.get()) < 0) return;
    if (++session_seq_ == 0) ++session_seq_;
    Bytes out;
    if (!build_session_request(keys_, hs_.bmc_sid, session_seq_, IPMI_NET_FN_APP_RQ, next_rq_seq(),
                               rq.get(), out, nullptr))
      return;
    last_ = std::move(out);
    transmit();
  }

  void finish(Outcome o) {
    if (finished_) return;
    finished_ = true;
    auto self = shared_from_this();  // keep alive until the end of this function
    disarm_retransmit();
    retx_timer_.cancel();
    deadline_timer_.cancel();
    if (resolver_) resolver_->cancel();
    if (slot_.is_connected()) slot_.clear();
    keys_.wipe();
    o.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - started_);
    o.retransmits = retransmits_;
    if (busy_count_ > 0) facts_.emplace_back("busy_retries", std::to_string(busy_count_));
    if (o.facts.empty())
      o.facts = std::move(facts_);
    else
      for (auto& f : facts_) o.facts.push_back(std::move(f));
    facts_.clear();
    asio::post(eng_.executor(),
               [done = std::move(done_), o = std::move(o)]() mutable { done(std::move(o)); });
    eng_.detach(this);
  }

  Engine& eng_;
  std::string target_name_;
  std::string host_;
  std::uint16_t port_;
  std::string bmc_key_;
  Request req_;
  Clock::time_point deadline_;        ///< now in force: the read's own while read_first reads
  Clock::time_point final_deadline_;  ///< the operation's
  Clock::time_point read_deadline_;   ///< read_first: the read's (else the operation's)
  asio::cancellation_slot slot_;
  CompletionFn done_;
  asio::steady_timer retx_timer_;
  Clock::time_point retx_due_{};  ///< when the awaited reply is overdue (retransmit then)
  unsigned retx_gen_ = 0;         ///< the generation of the one retransmit wait that counts
  bool retx_armed_ = false;       ///< that wait is pending
  asio::steady_timer deadline_timer_;
  std::unique_ptr<udp::resolver> resolver_;  ///< only for a BMC given by name
  Clock::time_point started_;

  Settings st_;
  std::size_t cipher_idx_ = 0;
  Algorithms alg_;
  Handshake hs_;
  SessionKeys keys_;
  udp::endpoint peer_;
  unsigned sock_ = 0;

  Sent sent_ = Sent::Nothing;
  Bytes last_;
  int tries_ = 0;
  int retransmits_ = 0;
  int busy_count_ = 0;
  int control_sends_ = 0;
  std::uint32_t session_seq_ = 0;
  std::uint8_t rq_seq_ = 0;
  std::uint8_t tag_ = 0;
  bool any_reply_ = false;
  Clock::time_point first_sent_{};
  std::chrono::milliseconds rtt_min_{0};  ///< shortest round trip seen in this session
  int ignored_bad_ = 0;      ///< datagrams from the peer that failed parsing or checks
  int ignored_foreign_ = 0;  ///< datagrams from the peer for a session id not ours
  bool bmc_sid_known_ = false;
  bool established_ = false;
  bool closing_ = false;
  bool confirming_ = false;
  bool confirm_note_ = false;
  bool busy_wait_ = false;
  std::string probe_result_;
  const plugin::Plugin* plugin_ = nullptr;
  bool vendor_auto_ = true;
  bool workaround(std::string_view w) const { return plugin_ && plugin_->profile.ipmi.has(w); }
  std::uint8_t cs_index_ = 0;
  std::vector<std::uint8_t> cs_records_;
  bool probing_ = false;  ///< established_ is a guess until Set Session Privilege answers
  bool raised_ = false;   ///< Set Session Privilege Level was sent (else: User level)
  bool control_after_raise_ = false;  ///< the read before acting decided; raising for it
  bool probe_confirmed_ = false;  ///< a late RAKP 4 proved the probed session active
  Bytes rakp3_;                   ///< while probing: the RAKP 3 sent, repeated with the probe
  bool reading_after_ = false;   ///< Get Chassis Status after an accepted on/off
  bool reading_before_ = false;  ///< Get Chassis Status before a read_first power action
  int restarts_ = 0;
  bool control_waiting_ = false;  ///< a Chassis Control reply is outstanding
  bool resend_blocked_ = false;   ///< non-idempotent control: wait, never re-send
  std::uint8_t control_rq_seq_ = 0;
  PowerState state_after_loss_ = PowerState::Unknown;
  PowerState reading_state_ = PowerState::Unknown;  ///< power reading: state read first
  bool finished_ = false;
  std::unique_ptr<Outcome> pending_;  ///< the result, while the Close Session is under way
  Outcome take_pending() {
    if (!pending_) return Outcome::failure(ErrorKind::Internal, "session closed without a result");
    Outcome o = std::move(*pending_);
    pending_.reset();
    return o;
  }
  std::vector<std::pair<std::string, std::string>> facts_;

  friend class Engine;
};

// =============================================================================================
// Engine
// =============================================================================================
Engine::Engine(asio::any_io_executor ex, Options opts)
    : ex_(std::move(ex)), opts_(opts), rng_(std::random_device{}()) {
  if (opts_.sockets == 0) opts_.sockets = 1;
}

Engine::~Engine() = default;

bool Engine::open_sockets(std::string& err) {
  if (!socks_.empty()) return true;
  for (unsigned i = 0; i < opts_.sockets; ++i) {
    auto s = std::make_unique<udp::socket>(ex_);
    boost::system::error_code ec;
    s->open(udp::v4(), ec);
    if (!ec) s->bind(udp::endpoint(udp::v4(), 0), ec);
    if (!ec) s->non_blocking(true, ec);
    if (ec) {
      err = "cannot open UDP socket: " + ec.message();
      socks_.clear();
      return false;
    }
    boost::system::error_code ignore;
    s->set_option(asio::socket_base::receive_buffer_size(opts_.socket_buffer), ignore);
    s->set_option(asio::socket_base::send_buffer_size(opts_.socket_buffer), ignore);
    socks_.push_back(std::move(s));
  }
  for (unsigned i = 0; i < socks_.size(); ++i) arm(i);
  return true;
}

void Engine::arm(unsigned i) {
  socks_[i]->async_wait(udp::socket::wait_read,
                        [w = weak_from_this(), i](boost::system::error_code ec) {
                          if (ec) return;
                          if (auto e = w.lock()) e->on_readable(i);
                        });
}

void Engine::on_readable(unsigned i) {
  if (i >= socks_.size()) return;
  // Drain what is queued, several datagrams per recvmmsg(2), bounded per wake-up so that
  // timers and the other sockets get their turn.  What the handlers send meanwhile leaves in
  // batches (see send()), the rest when the drain ends.
  constexpr unsigned kRx = 16;
  constexpr std::size_t kRxSize = 2048;  // RMCP+ datagrams are far smaller
  std::array<mmsghdr, kRx> hdrs{};
  std::array<iovec, kRx> iov{};
  std::array<sockaddr_storage, kRx> addrs{};
  if (rxbufs_.size() < kRx * kRxSize) rxbufs_.resize(kRx * kRxSize);
  const int fd = socks_[i]->native_handle();
  for (unsigned n = 0; n < 512;) {
    for (unsigned k = 0; k < kRx; ++k) {
      iov[k] = {rxbufs_.data() + k * kRxSize, kRxSize};
      hdrs[k] = {};
      hdrs[k].msg_hdr.msg_name = &addrs[k];
      hdrs[k].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      hdrs[k].msg_hdr.msg_iov = &iov[k];
      hdrs[k].msg_hdr.msg_iovlen = 1;
    }
    int got = ::recvmmsg(fd, hdrs.data(), kRx, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      // ECONNREFUSED reports an ICMP error (the peer is just silent); EAGAIN: drained.
      if (errno == ECONNREFUSED || errno == EINTR) {
        ++n;
        continue;
      }
      break;
    }
    for (int k = 0; k < got; ++k, ++n) {
      const auto& h = hdrs[k].msg_hdr;
      if (addrs[k].ss_family != AF_INET || h.msg_namelen < sizeof(sockaddr_in) ||
          (h.msg_flags & MSG_TRUNC))
        continue;
      udp::endpoint from;
      std::memcpy(from.data(), &addrs[k], sizeof(sockaddr_in));
      ++stats_.received;
      dispatch(from, ByteView(rxbufs_.data() + k * kRxSize, hdrs[k].msg_len));
    }
    if (got < static_cast<int>(kRx)) break;
  }
  flush_sends();
  arm(i);
}

void Engine::dispatch(const udp::endpoint& from, ByteView pkt) {
  Peek pk;
  const bool malformed = !peek(pkt, pk);
  if (!malformed && pk.rmcpplus && pk.console_sid != 0) {
    auto it = by_sid_.find(pk.console_sid);
    if (it != by_sid_.end() && it->second->peer() == from) {
      auto keep = it->second;  // the session may finish (and detach) while handling
      if (keep->on_datagram(pk, pkt)) return;
    }
  }
  // Pre-session replies (and setup errors without our id): offer to the sessions at that peer.
  auto [b, e] = by_peer_.equal_range(from);
  std::vector<std::shared_ptr<Session>> cands;
  for (auto it = b; it != e; ++it) cands.push_back(it->second->shared_from_this());
  if (!malformed)
    for (auto& s : cands)
      if (!s->finished() && s->on_datagram(pk, pkt)) return;
  ++stats_.stray;
  // Nobody took it: let the sessions at that address say so if they end without a valid reply.
  const bool foreign =
      !malformed && pk.rmcpplus && pk.console_sid != 0 && !by_sid_.count(pk.console_sid);
  for (auto& s : cands)
    if (!s->finished()) s->note_ignored(foreign);
}

void Engine::send(unsigned sock, const udp::endpoint& to, ByteView pkt) {
  if (sock >= socks_.size()) return;
  // Queued, to leave with the others sent by this turn of the event loop (one sendmmsg per
  // socket instead of a sendto each): at `send_batch`, at the end of a drain of replies, or
  // from a flush posted behind the handlers already queued.  The BMCs (on loopback: the
  // simulators) are then woken in a burst instead of preempting the loop after each packet.
  // Without batching, and once shutting down (the Close Sessions), each leaves at once.
  outq_.push_back({sock, to, outbuf_.size(), pkt.size()});
  outbuf_.insert(outbuf_.end(), pkt.data(), pkt.data() + pkt.size());
  if (stopping_ || outq_.size() >= std::max(1u, opts_.send_batch)) return flush_sends();
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(ex_, [w = weak_from_this()] {
    if (auto e = w.lock()) {
      e->flush_posted_ = false;
      e->flush_sends();
    }
  });
}

void Engine::flush_sends() {
  if (outq_.empty()) return;
  const std::size_t n = outq_.size();
  std::vector<mmsghdr> hdrs(n);
  std::vector<iovec> iov(n);
  // One sendmmsg per socket, each socket's datagrams in the order they were queued.
  for (unsigned sock = 0; sock < socks_.size(); ++sock) {
    std::size_t k = 0;
    for (auto& q : outq_) {
      if (q.sock != sock) continue;
      iov[k].iov_base = outbuf_.data() + q.off;
      iov[k].iov_len = q.len;
      hdrs[k] = {};
      hdrs[k].msg_hdr.msg_name = q.to.data();
      hdrs[k].msg_hdr.msg_namelen = static_cast<socklen_t>(q.to.size());
      hdrs[k].msg_hdr.msg_iov = &iov[k];
      hdrs[k].msg_hdr.msg_iovlen = 1;
      ++k;
    }
    const int fd = socks_[sock]->native_handle();
    for (std::size_t done = 0; done < k;) {
      int r = ::sendmmsg(fd, hdrs.data() + done, static_cast<unsigned>(k - done), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ++done;  // the kernel refused this one: lost, its retransmission timer covers it
        continue;
      }
      stats_.sent += static_cast<unsigned>(r);
      done += static_cast<std::size_t>(r);
    }
  }
  outq_.clear();
  outbuf_.clear();
}

std::uint32_t Engine::new_session_id() {
  for (;;) {
    auto v = static_cast<std::uint32_t>(rng_());
    if (v != 0 && !by_sid_.count(v)) return v;
  }
}

std::chrono::milliseconds Engine::jitter() {
  auto j = opts_.retransmit_jitter.count();
  if (j <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<long>(rng_() % static_cast<unsigned long>(j)));
}

unsigned Engine::pick_socket() {
  unsigned i = next_sock_++;
  return socks_.empty() ? 0 : i % static_cast<unsigned>(socks_.size());
}

void Engine::attach_peer(Session* s) { by_peer_.emplace(s->peer(), s); }

void Engine::rekey(Session* s, std::uint32_t old_sid, std::uint32_t new_sid) {
  auto it = by_sid_.find(old_sid);
  if (it == by_sid_.end() || it->second.get() != s) return;
  auto keep = it->second;
  by_sid_.erase(it);
  by_sid_.emplace(new_sid, std::move(keep));
}

void Engine::detach(Session* s) {
  auto [b, e] = by_peer_.equal_range(s->peer());
  for (auto it = b; it != e; ++it)
    if (it->second == s) {
      by_peer_.erase(it);
      break;
    }
  auto it = by_sid_.find(s->sid());
  if (it != by_sid_.end() && it->second.get() == s) by_sid_.erase(it);
}

std::optional<int> Engine::cached_cipher(const std::string& bmc_key) const {
  auto it = cipher_cache_.find(bmc_key);
  if (it == cipher_cache_.end()) return std::nullopt;
  return it->second;
}

void Engine::start(OpContext ctx, CompletionFn done) {
  std::string err;
  if (!open_sockets(err)) {
    asio::post(
        ex_, [done = std::move(done), err]() { done(Outcome::failure(ErrorKind::Internal, err)); });
    return;
  }
  auto s = std::make_shared<Session>(*this, ctx, std::move(done));
  by_sid_.emplace(s->sid(), s);
  ++stats_.sessions_started;
  s->begin(ctx.target, ctx.credential);
}

void Engine::shutdown() {
  stopping_ = true;  // from here every datagram (the Close Sessions below) leaves at once
  flush_sends();
  // Finish whatever is still running (normally nothing: the scheduler cancels first).
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [sid, s] : by_sid_) all.push_back(s);
  for (auto& s : all) s->on_cancel(asio::cancellation_type::terminal);
  for (auto& sk : socks_) {
    boost::system::error_code ignore;
    sk->close(ignore);
  }
  socks_.clear();
}

}  // namespace fleetpower::ipmi

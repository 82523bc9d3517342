// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/packets.hpp"

#include <freeipmi/freeipmi.h>

#include <array>
#include <cstring>
#include <unordered_map>

namespace fleetpower::ipmi {

namespace {
constexpr unsigned kMaxPkt = 1024;

// Packets are assembled here and copied out at their length: a session keeps its last request
// (for retransmission), and a vector sized kMaxPkt and shrunk kept all 1024 bytes' capacity.
std::uint8_t* scratch() {
  thread_local std::array<std::uint8_t, kMaxPkt> buf;
  return buf.data();
}

/// Any IPMI response: lets checksums cover every byte the BMC sent, also when a reply is
/// longer or shorter than the command's own template (ipmi_sim's Chassis Identify reply is).
fiid_template_t tmpl_any_rs = {
    {8, "cmd", FIID_FIELD_REQUIRED | FIID_FIELD_LENGTH_FIXED | FIID_FIELD_MAKES_PACKET_SUFFICIENT},
    {8, "comp_code",
     FIID_FIELD_REQUIRED | FIID_FIELD_LENGTH_FIXED | FIID_FIELD_MAKES_PACKET_SUFFICIENT},
    {8 * 512, "data", FIID_FIELD_OPTIONAL | FIID_FIELD_LENGTH_VARIABLE},
    {0, "", 0}};

void set_err(std::string* err, std::string msg) {
  if (err) *err = std::move(msg);
}

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}

const char* pw_ptr(const Creds& c) { return c.password.empty() ? nullptr : c.password.data(); }
const char* user_ptr(const Creds& c) { return c.username.empty() ? nullptr : c.username.data(); }

/// The per-packet header objects, created once per thread (the engine is single-threaded;
/// tests may use other threads).  They are not cleared here: every fill_*() function clears
/// the object it fills, and the unassemble functions clear the objects they write before
/// parsing, except the three that unassemble_ipmi_rmcpplus_pkt() clears only for some packets
/// (the LAN message header and trailer for IPMI payloads, the session trailer for
/// authenticated ones); clear_reply_parts() clears those so a malformed reply can never be
/// checked against the fields of an earlier one.  Clearing all eight per packet cost a 64 KB
/// memset of the RMCP+ payload object each time (callgrind, `status` of 500 BMCs: 1.29 G
/// instructions with it, 0.83 G without).
struct HdrObjs {
  FiidObj rmcp{tmpl_rmcp_hdr};
  FiidObj lan_session{tmpl_lan_session_hdr};
  FiidObj lan_msg_rq{tmpl_lan_msg_hdr_rq};
  FiidObj lan_msg_rs{tmpl_lan_msg_hdr_rs};
  FiidObj lan_trlr{tmpl_lan_msg_trlr};
  FiidObj rmcpp_session{tmpl_rmcpplus_session_hdr};
  FiidObj rmcpp_payload{tmpl_rmcpplus_payload};
  FiidObj rmcpp_trlr{tmpl_rmcpplus_session_trlr};
  bool clear_reply_parts() { return lan_msg_rs.clear() && lan_trlr.clear() && rmcpp_trlr.clear(); }
};
HdrObjs& hdrs() {
  thread_local HdrObjs h;
  return h;
}

bool assemble_setup(std::uint8_t payload_type, fiid_obj_t obj_cmd, Bytes& out, std::string* err) {
  auto& h = hdrs();
  if (fill_rmcp_hdr_ipmi(h.rmcp.get()) < 0 ||
      fill_rmcpplus_session_hdr(payload_type, IPMI_PAYLOAD_FLAG_UNAUTHENTICATED,
                                IPMI_PAYLOAD_FLAG_UNENCRYPTED, 0, 0, 0, 0,
                                h.rmcpp_session.get()) < 0 ||
      fill_lan_msg_hdr(IPMI_SLAVE_ADDRESS_BMC, IPMI_NET_FN_APP_RQ, IPMI_BMC_IPMB_LUN_BMC, 0,
                       h.lan_msg_rq.get()) < 0 ||
      fill_rmcpplus_session_trlr(h.rmcpp_trlr.get()) < 0) {
    set_err(err, "cannot fill RMCP+ headers");
    return false;
  }
  std::uint8_t* buf = scratch();
  int len = assemble_ipmi_rmcpplus_pkt(
      IPMI_AUTHENTICATION_ALGORITHM_RAKP_NONE, IPMI_INTEGRITY_ALGORITHM_NONE,
      IPMI_CONFIDENTIALITY_ALGORITHM_NONE, nullptr, 0, nullptr, 0, nullptr, 0, h.rmcp.get(),
      h.rmcpp_session.get(), h.lan_msg_rq.get(), obj_cmd, h.rmcpp_trlr.get(), buf,
      kMaxPkt, IPMI_INTERFACE_FLAGS_DEFAULT);
  if (len <= 0) {
    out.clear();
    set_err(err, "cannot assemble RMCP+ setup packet");
    return false;
  }
  out.assign(buf, buf + len);
  return true;
}

/// Unassemble a session-setup reply (no keys yet) into obj_cmd and check its payload type.
ParseResult unassemble_setup(ByteView pkt, std::uint8_t payload_type, fiid_obj_t obj_cmd,
                             std::string* err) {
  auto& h = hdrs();
  if (!h.clear_reply_parts()) return ParseResult::Invalid;
  int r = unassemble_ipmi_rmcpplus_pkt(
      IPMI_AUTHENTICATION_ALGORITHM_RAKP_NONE, IPMI_INTEGRITY_ALGORITHM_NONE,
      IPMI_CONFIDENTIALITY_ALGORITHM_NONE, nullptr, 0, nullptr, 0, pkt.data(),
      static_cast<unsigned>(pkt.size()), h.rmcp.get(), h.rmcpp_session.get(), h.rmcpp_payload.get(),
      h.lan_msg_rs.get(), obj_cmd, h.lan_trlr.get(), h.rmcpp_trlr.get(),
      IPMI_INTERFACE_FLAGS_DEFAULT);
  if (r < 0) {
    set_err(err, "malformed RMCP+ packet");
    return ParseResult::Ignore;
  }
  std::uint64_t pt = 0;
  if (!h.rmcpp_session.u64("payload_type", pt) || pt != payload_type) return ParseResult::Ignore;
  return ParseResult::Ok;
}

bool get_setup_common(const FiidObj& o, SetupReply& out) {
  std::uint64_t v = 0;
  if (!o.u64("message_tag", v)) return false;
  out.tag = static_cast<std::uint8_t>(v);
  if (!o.u64("rmcpplus_status_code", v)) return false;
  out.status = static_cast<std::uint8_t>(v);
  if (o.u64("remote_console_session_id", v)) out.console_sid = static_cast<std::uint32_t>(v);
  return true;
}
}  // namespace

Creds::~Creds() {
  for (auto* s : {&password, &kg}) {
    volatile char* p = s->data();
    for (std::size_t i = 0; i < s->size(); ++i) p[i] = 0;
  }
}

bool crypto_init() {
  static const bool ok = ipmi_rmcpplus_init() >= 0;
  return ok;
}

// ---- FiidObj ---------------------------------------------------------------------------------
namespace {
/// Cleared fiid objects ready for reuse, per template, for this thread.
class FiidPool {
 public:
  static constexpr std::size_t kKeep = 32;  ///< per template; a session holds a handful at once
  ~FiidPool() {
    alive = false;
    for (auto& [t, objs] : free_)
      for (auto* o : objs) fiid_obj_destroy(o);
  }
  fiid_obj_t take(const void* tmpl) {
    auto it = free_.find(tmpl);
    if (it == free_.end() || it->second.empty()) return nullptr;
    auto* o = it->second.back();
    it->second.pop_back();
    return o;
  }
  /// Takes ownership of `o` (cleared here); destroys it when the pool for `tmpl` is full.
  void give(const void* tmpl, fiid_obj_t o) noexcept {
    if (fiid_obj_clear(o) < 0) return fiid_obj_destroy(o);
    try {
      auto& v = free_[tmpl];
      if (v.size() >= kKeep) return fiid_obj_destroy(o);
      v.push_back(o);
    } catch (...) {
      fiid_obj_destroy(o);
    }
  }
  static thread_local bool alive;

 private:
  std::unordered_map<const void*, std::vector<fiid_obj_t>> free_;
};
thread_local bool FiidPool::alive = true;
FiidPool& fiid_pool() {
  thread_local FiidPool pool;
  return pool;
}
}  // namespace

FiidObj::FiidObj(fiid_template_t tmpl) : tmpl_(tmpl) {
  if (FiidPool::alive) obj_ = fiid_pool().take(tmpl_);
  if (!obj_) obj_ = fiid_obj_create(tmpl);
}
void FiidObj::release() noexcept {
  if (!obj_) return;
  if (tmpl_ && FiidPool::alive) fiid_pool().give(tmpl_, obj_);
  else fiid_obj_destroy(obj_);
  obj_ = nullptr;
}
FiidObj& FiidObj::operator=(FiidObj&& o) noexcept {
  if (this != &o) {
    release();
    obj_ = o.obj_;
    tmpl_ = o.tmpl_;
    o.obj_ = nullptr;
  }
  return *this;
}
FiidObj::~FiidObj() { release(); }
bool FiidObj::u64(const char* field, std::uint64_t& v) const {
  return obj_ && fiid_obj_get(obj_, field, &v) == 1;
}
int FiidObj::data(const char* field, void* buf, unsigned len) const {
  return obj_ ? fiid_obj_get_data(obj_, field, buf, len) : -1;
}
bool FiidObj::clear() { return obj_ && fiid_obj_clear(obj_) == 0; }

// ---- algorithms / keys -----------------------------------------------------------------------
bool cipher_suite_algorithms(int suite, Algorithms& out) {
  if (suite != 3 && suite != 17) return false;
  return ipmi_cipher_suite_id_to_algorithms(static_cast<std::uint8_t>(suite), &out.authentication,
                                            &out.integrity, &out.confidentiality) == 0;
}

void SessionKeys::wipe() {
  volatile std::uint8_t* p = sik.data();
  for (std::size_t i = 0; i < sik.size(); ++i) p[i] = 0;
  p = k1.data();
  for (std::size_t i = 0; i < k1.size(); ++i) p[i] = 0;
  p = k2.data();
  for (std::size_t i = 0; i < k2.size(); ++i) p[i] = 0;
  sik_len = k1_len = k2_len = 0;
}

bool peek(ByteView pkt, Peek& out) {
  out = Peek{};
  if (pkt.size() < 14 || pkt[0] != 0x06 || (pkt[3] & 0x1f) != 0x07) return false;
  if ((pkt[4] & 0x0f) == IPMI_AUTHENTICATION_TYPE_RMCPPLUS) {
    if (pkt.size() < 16) return false;
    out.rmcpplus = true;
    out.payload_type = pkt[5] & 0x3f;
    if (IPMI_PAYLOAD_TYPE_SESSION_SETUP(out.payload_type)) {
      // Error replies may carry only tag and status (ipmi_sim does): no session id then.
      if (pkt.size() >= 16 + 8) out.console_sid = le32(pkt.data() + 16 + 4);
    } else {
      out.console_sid = le32(pkt.data() + 6);
    }
    return true;
  }
  out.rmcpplus = false;
  return true;
}

// ---- requests --------------------------------------------------------------------------------
bool build_get_channel_auth_caps(std::uint8_t rq_seq, std::uint8_t privilege, Bytes& out,
                                 std::string* err) {
  auto& h = hdrs();
  FiidObj cmd(tmpl_cmd_get_channel_authentication_capabilities_rq);
  if (!cmd || fill_rmcp_hdr_ipmi(h.rmcp.get()) < 0 ||
      fill_lan_session_hdr(IPMI_AUTHENTICATION_TYPE_NONE, 0, 0, h.lan_session.get()) < 0 ||
      fill_lan_msg_hdr(IPMI_SLAVE_ADDRESS_BMC, IPMI_NET_FN_APP_RQ, IPMI_BMC_IPMB_LUN_BMC,
                       rq_seq & IPMI_LAN_REQUESTER_SEQUENCE_NUMBER_MAX, h.lan_msg_rq.get()) < 0 ||
      fill_cmd_get_channel_authentication_capabilities(IPMI_CHANNEL_NUMBER_CURRENT_CHANNEL,
                                                       privilege, IPMI_GET_IPMI_V20_EXTENDED_DATA,
                                                       cmd.get()) < 0) {
    set_err(err, "cannot fill Get Channel Authentication Capabilities");
    return false;
  }
  std::uint8_t* buf = scratch();
  int len = assemble_ipmi_lan_pkt(h.rmcp.get(), h.lan_session.get(), h.lan_msg_rq.get(), cmd.get(),
                                  nullptr, 0, buf, kMaxPkt,
                                  IPMI_INTERFACE_FLAGS_DEFAULT);
  if (len <= 0) {
    out.clear();
    set_err(err, "cannot assemble Get Channel Authentication Capabilities");
    return false;
  }
  out.assign(buf, buf + len);
  return true;
}

bool build_open_session(std::uint8_t tag, const Handshake& hs, const Algorithms& alg, Bytes& out,
                        std::string* err) {
  FiidObj cmd(tmpl_rmcpplus_open_session_request);
  if (!cmd || fill_rmcpplus_open_session(tag, hs.privilege, hs.console_sid, alg.authentication,
                                         alg.integrity, alg.confidentiality, cmd.get()) < 0) {
    set_err(err, "cannot fill Open Session Request");
    return false;
  }
  return assemble_setup(IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_REQUEST, cmd.get(), out, err);
}

bool build_rakp1(std::uint8_t tag, const Handshake& hs, const Creds& c, Bytes& out,
                 std::string* err) {
  FiidObj cmd(tmpl_rmcpplus_rakp_message_1);
  if (!cmd || fill_rmcpplus_rakp_message_1(
                  tag, hs.bmc_sid, hs.console_random.data(), hs.console_random.size(), hs.privilege,
                  hs.name_only_lookup, user_ptr(c), static_cast<unsigned>(c.username.size()),
                  cmd.get()) < 0) {
    set_err(err, "cannot fill RAKP 1");
    return false;
  }
  return assemble_setup(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_1, cmd.get(), out, err);
}

bool build_rakp3(std::uint8_t tag, std::uint8_t status, const Handshake& hs, const Creds& c,
                 const Algorithms& alg, Bytes& out, std::string* err) {
  std::uint8_t code[IPMI_HMAC_SHA256_DIGEST_LENGTH + 32];
  int code_len = 0;
  crypto_init();
  if (status == RMCPPLUS_STATUS_NO_ERRORS) {
    code_len = ipmi_calculate_rakp_3_key_exchange_authentication_code(
        alg.authentication, pw_ptr(c), static_cast<unsigned>(c.password.size()),
        hs.bmc_random.data(), hs.bmc_random.size(), hs.console_sid, hs.name_only_lookup,
        hs.privilege, user_ptr(c), static_cast<unsigned>(c.username.size()), code, sizeof code);
    if (code_len < 0) {
      set_err(err, "cannot compute RAKP 3 key exchange code");
      return false;
    }
  }
  FiidObj cmd(tmpl_rmcpplus_rakp_message_3);
  bool ok =
      cmd && fill_rmcpplus_rakp_message_3(tag, status, hs.bmc_sid, code_len > 0 ? code : nullptr,
                                          static_cast<unsigned>(code_len), cmd.get()) >= 0;
  std::memset(code, 0, sizeof code);
  if (!ok) {
    set_err(err, "cannot fill RAKP 3");
    return false;
  }
  return assemble_setup(IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_3, cmd.get(), out, err);
}

bool build_session_request(const SessionKeys& k, std::uint32_t bmc_sid, std::uint32_t seq,
                           std::uint8_t netfn, std::uint8_t rq_seq, fiid_obj_t obj_cmd, Bytes& out,
                           std::string* err) {
  auto& h = hdrs();
  std::uint8_t authed = k.alg.integrity == IPMI_INTEGRITY_ALGORITHM_NONE
                            ? IPMI_PAYLOAD_FLAG_UNAUTHENTICATED
                            : IPMI_PAYLOAD_FLAG_AUTHENTICATED;
  std::uint8_t enc = k.alg.confidentiality == IPMI_CONFIDENTIALITY_ALGORITHM_NONE
                         ? IPMI_PAYLOAD_FLAG_UNENCRYPTED
                         : IPMI_PAYLOAD_FLAG_ENCRYPTED;
  if (fill_rmcp_hdr_ipmi(h.rmcp.get()) < 0 ||
      fill_rmcpplus_session_hdr(IPMI_PAYLOAD_TYPE_IPMI, authed, enc, 0, 0, bmc_sid, seq,
                                h.rmcpp_session.get()) < 0 ||
      fill_lan_msg_hdr(IPMI_SLAVE_ADDRESS_BMC, netfn, IPMI_BMC_IPMB_LUN_BMC,
                       rq_seq & IPMI_LAN_REQUESTER_SEQUENCE_NUMBER_MAX, h.lan_msg_rq.get()) < 0 ||
      fill_rmcpplus_session_trlr(h.rmcpp_trlr.get()) < 0) {
    set_err(err, "cannot fill session headers");
    return false;
  }
  std::uint8_t* buf = scratch();
  int len = assemble_ipmi_rmcpplus_pkt(
      k.alg.authentication, k.alg.integrity, k.alg.confidentiality,
      k.k1_len ? k.k1.data() : nullptr, k.k1_len, k.k2_len ? k.k2.data() : nullptr, k.k2_len,
      nullptr, 0, h.rmcp.get(), h.rmcpp_session.get(), h.lan_msg_rq.get(), obj_cmd,
      h.rmcpp_trlr.get(), buf, kMaxPkt,
      IPMI_INTERFACE_FLAGS_DEFAULT);
  if (len <= 0) {
    out.clear();
    set_err(err, "cannot assemble session packet");
    return false;
  }
  out.assign(buf, buf + len);
  return true;
}

// ---- responses -------------------------------------------------------------------------------
ParseResult parse_get_channel_auth_caps(ByteView pkt, std::uint8_t rq_seq, AuthCaps& out,
                                        std::string* err) {
  auto& h = hdrs();
  FiidObj cmd(tmpl_cmd_get_channel_authentication_capabilities_rs);
  if (unassemble_ipmi_lan_pkt(pkt.data(), static_cast<unsigned>(pkt.size()), h.rmcp.get(),
                              h.lan_session.get(), h.lan_msg_rs.get(), cmd.get(), h.lan_trlr.get(),
                              IPMI_INTERFACE_FLAGS_DEFAULT) < 0) {
    set_err(err, "malformed IPMI 1.5 packet");
    return ParseResult::Ignore;
  }
  if (ipmi_lan_check_checksum(h.lan_msg_rs.get(), cmd.get(), h.lan_trlr.get()) != 1 ||
      ipmi_lan_check_net_fn(h.lan_msg_rs.get(), IPMI_NET_FN_APP_RS) != 1 ||
      ipmi_lan_check_rq_seq(h.lan_msg_rs.get(), rq_seq & IPMI_LAN_REQUESTER_SEQUENCE_NUMBER_MAX) !=
          1 ||
      ipmi_check_cmd(cmd.get(), IPMI_CMD_GET_CHANNEL_AUTHENTICATION_CAPABILITIES) != 1)
    return ParseResult::Ignore;
  std::uint64_t v = 0;
  if (!cmd.u64("comp_code", v)) return ParseResult::Ignore;
  out.comp_code = static_cast<std::uint8_t>(v);
  if (out.comp_code != 0) return ParseResult::Ok;
  std::uint64_t ext = 0, v2 = 0;
  cmd.u64("authentication_type.ipmi_v2.0_extended_capabilities_available", ext);
  cmd.u64("channel_supports_ipmi_v2.0_connections", v2);
  out.ipmi20 = ext && v2;
  return ParseResult::Ok;
}

ParseResult parse_open_session_response(ByteView pkt, std::uint8_t tag, SetupReply& out,
                                        std::string* err) {
  FiidObj cmd(tmpl_rmcpplus_open_session_response);
  auto r = unassemble_setup(pkt, IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_RESPONSE, cmd.get(), err);
  if (r != ParseResult::Ok) return r;
  if (!get_setup_common(cmd, out) || out.tag != tag) return ParseResult::Ignore;
  if (out.status != RMCPPLUS_STATUS_NO_ERRORS) return ParseResult::Ok;
  std::uint64_t v = 0;
  if (!cmd.u64("maximum_privilege_level", v)) return ParseResult::Ignore;
  out.max_privilege = static_cast<std::uint8_t>(v);
  if (!cmd.u64("managed_system_session_id", v)) return ParseResult::Ignore;
  out.bmc_sid = static_cast<std::uint32_t>(v);
  if (!cmd.u64("authentication_payload.authentication_algorithm", v)) return ParseResult::Ignore;
  out.alg.authentication = static_cast<std::uint8_t>(v);
  if (!cmd.u64("integrity_payload.integrity_algorithm", v)) return ParseResult::Ignore;
  out.alg.integrity = static_cast<std::uint8_t>(v);
  if (!cmd.u64("confidentiality_payload.confidentiality_algorithm", v)) return ParseResult::Ignore;
  out.alg.confidentiality = static_cast<std::uint8_t>(v);
  return ParseResult::Ok;
}

ParseResult parse_rakp2(ByteView pkt, std::uint8_t tag, Handshake& hs, const Creds& c,
                        const Algorithms& alg, SetupReply& out, bool& auth_ok, std::string* err) {
  auth_ok = false;
  crypto_init();
  FiidObj cmd(tmpl_rmcpplus_rakp_message_2);
  auto r = unassemble_setup(pkt, IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_2, cmd.get(), err);
  if (r != ParseResult::Ok) return r;
  if (!get_setup_common(cmd, out) || out.tag != tag) return ParseResult::Ignore;
  if (out.status != RMCPPLUS_STATUS_NO_ERRORS) return ParseResult::Ok;
  if (out.console_sid != hs.console_sid) return ParseResult::Ignore;
  if (cmd.data("managed_system_random_number", hs.bmc_random.data(), hs.bmc_random.size()) != 16 ||
      cmd.data("managed_system_guid", hs.bmc_guid.data(), hs.bmc_guid.size()) != 16) {
    set_err(err, "RAKP 2 too short");
    return ParseResult::Invalid;
  }
  int ok = ipmi_rmcpplus_check_rakp_2_key_exchange_authentication_code(
      alg.authentication, pw_ptr(c), static_cast<unsigned>(c.password.size()), hs.console_sid,
      hs.bmc_sid, hs.console_random.data(), hs.console_random.size(), hs.bmc_random.data(),
      hs.bmc_random.size(), hs.bmc_guid.data(), hs.bmc_guid.size(), hs.name_only_lookup,
      hs.privilege, user_ptr(c), static_cast<unsigned>(c.username.size()), cmd.get());
  if (ok < 0) {
    set_err(err, "cannot check RAKP 2 key exchange code");
    return ParseResult::Invalid;
  }
  auth_ok = ok == 1;
  return ParseResult::Ok;
}

bool compute_session_keys(const Handshake& hs, const Creds& c, const Algorithms& alg,
                          SessionKeys& out, std::string* err) {
  if (!crypto_init()) {
    set_err(err, "cannot initialise the crypto library");
    return false;
  }
  out.wipe();
  out.alg = alg;
  void* sik = out.sik.data();
  void* k1 = out.k1.data();
  void* k2 = out.k2.data();
  unsigned sik_len = out.sik.size(), k1_len = out.k1.size(), k2_len = out.k2.size();
  const void* kg = c.kg.empty() ? nullptr : c.kg.data();
  if (ipmi_calculate_rmcpplus_session_keys(
          alg.authentication, alg.integrity, alg.confidentiality, pw_ptr(c),
          static_cast<unsigned>(c.password.size()), kg, static_cast<unsigned>(c.kg.size()),
          hs.console_random.data(), hs.console_random.size(), hs.bmc_random.data(),
          hs.bmc_random.size(), hs.name_only_lookup, hs.privilege, user_ptr(c),
          static_cast<unsigned>(c.username.size()), &sik, &sik_len, &k1, &k1_len, &k2,
          &k2_len) < 0) {
    set_err(err, "cannot compute session keys");
    return false;
  }
  // The library may point a key at other storage (e.g. the password for MD5 integrity): copy.
  auto copy = [](void* src, unsigned len, std::array<std::uint8_t, 64>& dst, unsigned& dlen) {
    if (!src || len > dst.size()) {
      dlen = 0;
      return;
    }
    if (src != dst.data()) std::memmove(dst.data(), src, len);
    dlen = len;
  };
  copy(sik, sik_len, out.sik, out.sik_len);
  copy(k1, k1_len, out.k1, out.k1_len);
  copy(k2, k2_len, out.k2, out.k2_len);
  return true;
}

ParseResult parse_rakp4(ByteView pkt, std::uint8_t tag, const Handshake& hs, const SessionKeys& k,
                        SetupReply& out, bool& icv_ok, std::string* err) {
  icv_ok = false;
  crypto_init();
  FiidObj cmd(tmpl_rmcpplus_rakp_message_4);
  auto r = unassemble_setup(pkt, IPMI_PAYLOAD_TYPE_RAKP_MESSAGE_4, cmd.get(), err);
  if (r != ParseResult::Ok) return r;
  if (!get_setup_common(cmd, out) || out.tag != tag) return ParseResult::Ignore;
  if (out.status != RMCPPLUS_STATUS_NO_ERRORS) return ParseResult::Ok;
  if (out.console_sid != hs.console_sid) return ParseResult::Ignore;
  int ok = ipmi_rmcpplus_check_rakp_4_integrity_check_value(
      k.alg.authentication, k.sik.data(), k.sik_len, hs.console_random.data(),
      hs.console_random.size(), hs.bmc_sid, hs.bmc_guid.data(), hs.bmc_guid.size(), cmd.get());
  if (ok < 0) {
    set_err(err, "cannot check RAKP 4 integrity check value");
    return ParseResult::Invalid;
  }
  icv_ok = ok == 1;
  return ParseResult::Ok;
}

ParseResult parse_session_reply(const SessionKeys& k, std::uint32_t console_sid, ByteView pkt,
                                std::uint8_t netfn_rq, std::uint8_t cmd, std::uint8_t rq_seq,
                                fiid_obj_t obj_cmd, std::string* err) {
  auto& h = hdrs();
  if (fiid_obj_clear(obj_cmd) < 0 || !h.clear_reply_parts()) return ParseResult::Invalid;
  thread_local FiidObj any(tmpl_any_rs);  // cleared by unassemble_ipmi_rmcpplus_pkt()
  int r = unassemble_ipmi_rmcpplus_pkt(
      k.alg.authentication, k.alg.integrity, k.alg.confidentiality,
      k.k1_len ? k.k1.data() : nullptr, k.k1_len, k.k2_len ? k.k2.data() : nullptr, k.k2_len,
      pkt.data(), static_cast<unsigned>(pkt.size()), h.rmcp.get(), h.rmcpp_session.get(),
      h.rmcpp_payload.get(), h.lan_msg_rs.get(), any.get(), h.lan_trlr.get(), h.rmcpp_trlr.get(),
      IPMI_INTERFACE_FLAGS_DEFAULT);
  if (r < 0) {
    set_err(err, "malformed session packet");
    return ParseResult::Ignore;
  }
  std::uint64_t v = 0;
  if (!h.rmcpp_session.u64("payload_type", v) || v != IPMI_PAYLOAD_TYPE_IPMI)
    return ParseResult::Ignore;
  if (!h.rmcpp_session.u64("session_id", v) || v != console_sid) return ParseResult::Ignore;
  if (k.alg.integrity != IPMI_INTEGRITY_ALGORITHM_NONE) {
    if (!h.rmcpp_session.u64("payload_type.authenticated", v) || v != 1) {
      set_err(err, "unauthenticated reply inside an authenticated session");
      return ParseResult::Ignore;
    }
    if (ipmi_rmcpplus_check_integrity_pad(h.rmcpp_trlr.get()) != 1 ||
        ipmi_rmcpplus_check_packet_session_authentication_code(
            k.alg.integrity, pkt.data(), static_cast<unsigned>(pkt.size()), k.k1.data(), k.k1_len,
            nullptr, 0, h.rmcpp_trlr.get()) != 1) {
      set_err(err, "bad integrity data");
      return ParseResult::Ignore;
    }
  }
  if (k.alg.confidentiality != IPMI_CONFIDENTIALITY_ALGORITHM_NONE) {
    if (ipmi_rmcpplus_check_payload_pad(k.alg.confidentiality, h.rmcpp_payload.get()) != 1) {
      set_err(err, "bad confidentiality pad");
      return ParseResult::Ignore;
    }
  }
  if (ipmi_lan_check_checksum(h.lan_msg_rs.get(), any.get(), h.lan_trlr.get()) != 1) {
    set_err(err, "bad checksum");
    return ParseResult::Ignore;
  }
  if (ipmi_lan_check_net_fn(h.lan_msg_rs.get(), static_cast<std::uint8_t>(netfn_rq | 1)) != 1 ||
      ipmi_lan_check_rq_seq(h.lan_msg_rs.get(), rq_seq & IPMI_LAN_REQUESTER_SEQUENCE_NUMBER_MAX) !=
          1 ||
      ipmi_check_cmd(any.get(), cmd) != 1)
    return ParseResult::Ignore;
  if (fiid_obj_get(any.get(), "comp_code", &v) != 1) return ParseResult::Ignore;
  std::uint8_t body[8 * 64 + 2];
  int n = fiid_obj_get_all(any.get(), body, sizeof body);
  if (n < 2 || fiid_obj_set_all(obj_cmd, body, static_cast<unsigned>(n)) < 0) {
    set_err(err, "cannot decode reply body");
    return ParseResult::Invalid;
  }
  return ParseResult::Ok;
}

}  // namespace fleetpower::ipmi

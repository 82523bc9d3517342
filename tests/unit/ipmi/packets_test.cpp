// SPDX-License-Identifier: GPL-3.0-or-later
// Packet building and parsing without a network peer: settings validation, names, the
// demultiplexing peek, and the session crypto of cipher suites 3 and 17 (HMAC-SHA1/SHA256,
// AES-CBC-128) in both directions, including tampered packets.
#include <catch2/catch.hpp>

#include <freeipmi/freeipmi.h>

#include <cstring>

#include "transport/ipmi/names.hpp"
#include "transport/ipmi/packets.hpp"
#include "transport/ipmi/random.hpp"

using namespace fleetpower;
using namespace fleetpower::ipmi;

namespace {
fiid_template_t tmpl_reply_body = {
    {8, "cmd", FIID_FIELD_REQUIRED | FIID_FIELD_LENGTH_FIXED},
    {8, "comp_code", FIID_FIELD_REQUIRED | FIID_FIELD_LENGTH_FIXED},
    {8 * 32, "data", FIID_FIELD_OPTIONAL | FIID_FIELD_LENGTH_VARIABLE},
    {0, "", 0}};

struct Crypto {
  Handshake hs;
  Creds creds;
  SessionKeys keys;
  explicit Crypto(int suite) {
    creds.username = "admin";
    creds.password = "s3cret-pw";
    hs.console_sid = 0x11223344;
    hs.bmc_sid = 0x55667788;
    hs.privilege = IPMI_PRIVILEGE_LEVEL_OPERATOR;
    for (int i = 0; i < 16; ++i) {
      hs.console_random[i] = static_cast<std::uint8_t>(i);
      hs.bmc_random[i] = static_cast<std::uint8_t>(0xA0 + i);
      hs.bmc_guid[i] = static_cast<std::uint8_t>(0x40 + i);
    }
    Algorithms alg;
    REQUIRE(cipher_suite_algorithms(suite, alg));
    std::string err;
    REQUIRE(compute_session_keys(hs, creds, alg, keys, &err));
  }
};

/// What a BMC would send back: a reply in the session, built with libfreeipmi.
Bytes bmc_reply(const SessionKeys& k, std::uint32_t console_sid, std::uint8_t netfn_rs,
                std::uint8_t rq_seq, const std::vector<std::uint8_t>& body) {
  FiidObj rmcp(tmpl_rmcp_hdr), sess(tmpl_rmcpplus_session_hdr), msg(tmpl_lan_msg_hdr_rq),
      cmd(tmpl_reply_body), trlr(tmpl_rmcpplus_session_trlr);
  // The response header has the same layout as a request header (addresses swapped).
  REQUIRE(fill_rmcp_hdr_ipmi(rmcp.get()) >= 0);
  REQUIRE(fill_rmcpplus_session_hdr(IPMI_PAYLOAD_TYPE_IPMI, IPMI_PAYLOAD_FLAG_AUTHENTICATED,
                                    IPMI_PAYLOAD_FLAG_ENCRYPTED, 0, 0, console_sid, 7,
                                    sess.get()) >= 0);
  REQUIRE(fill_lan_msg_hdr(0x81, netfn_rs, 0, rq_seq, msg.get()) >= 0);
  REQUIRE(fiid_obj_set_all(cmd.get(), body.data(), static_cast<unsigned>(body.size())) >= 0);
  REQUIRE(fill_rmcpplus_session_trlr(trlr.get()) >= 0);
  Bytes out(512);
  int n = assemble_ipmi_rmcpplus_pkt(
      k.alg.authentication, k.alg.integrity, k.alg.confidentiality, k.k1.data(), k.k1_len,
      k.k2.data(), k.k2_len, nullptr, 0, rmcp.get(), sess.get(), msg.get(), cmd.get(), trlr.get(),
      out.data(), static_cast<unsigned>(out.size()), IPMI_INTERFACE_FLAGS_DEFAULT);
  REQUIRE(n > 0);
  out.resize(static_cast<std::size_t>(n));
  return out;
}
}  // namespace

TEST_CASE("settings: cipher, privilege and credential limits", "[ipmi][settings]") {
  Target t;
  Credential c{"x", "admin", Secret("pw"), {}};
  Options d;
  Settings s;
  std::string why;
  REQUIRE(make_settings(t, c, d, s, why));
  CHECK(s.ciphers == std::vector<int>{17, 3});
  CHECK(s.cipher_auto);
  CHECK(s.privilege == 3);  // operator by default, explicit
  t.vars["cipher_suite"] = "3";
  t.vars["privilege"] = "Admin";
  REQUIRE(make_settings(t, c, d, s, why));
  CHECK(s.ciphers == std::vector<int>{3});
  CHECK(s.privilege == 4);
  t.vars["cipher_suite"] = "0";
  CHECK_FALSE(make_settings(t, c, d, s, why));
  CHECK(why.find("cipher_suite '0'") != std::string::npos);
  t.vars["cipher_suite"] = "17";
  t.vars["privilege"] = "highest";
  CHECK_FALSE(make_settings(t, c, d, s, why));
  t.vars["privilege"] = "user";
  c.password = Secret(std::string(20, 'p'));
  CHECK(make_settings(t, c, d, s, why));
  c.password = Secret(std::string(21, 'p'));
  CHECK_FALSE(make_settings(t, c, d, s, why));
  CHECK(why.find("20 bytes") != std::string::npos);
  CHECK(why.find("ppp") == std::string::npos);
  c.password = Secret("pw");
  c.username = std::string(17, 'u');
  CHECK_FALSE(make_settings(t, c, d, s, why));
  CHECK(why.find("16 bytes") != std::string::npos);
  c.username = "admin";
  c.kg_key = Secret("0x0102ff");
  REQUIRE(make_settings(t, c, d, s, why));
  CHECK(s.creds.kg == std::string("\x01\x02\xff", 3));
  c.kg_key = Secret("0xzz");
  CHECK_FALSE(make_settings(t, c, d, s, why));
  c.kg_key = Secret(std::string(21, 'k'));
  CHECK_FALSE(make_settings(t, c, d, s, why));
}

TEST_CASE("names: completion and RMCP+ status codes", "[ipmi][names]") {
  auto cc = completion_code_text(IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_CHASSIS_CONTROL, 0xCC);
  CHECK(cc.rfind("0xCC (", 0) == 0);
  CHECK(completion_code_kind(0xCC) == ErrorKind::Unsupported);
  CHECK(completion_code_kind(0xD4) == ErrorKind::Privilege);
  CHECK(completion_code_kind(0xC0) == ErrorKind::Busy);
  CHECK(completion_code_kind(0xFF) == ErrorKind::BmcError);
  CHECK(rmcpplus_status_kind(RMCPPLUS_STATUS_UNAUTHORIZED_NAME) == ErrorKind::Auth);
  CHECK(rmcpplus_status_kind(RMCPPLUS_STATUS_INVALID_AUTHENTICATION_ALGORITHM) ==
        ErrorKind::Unsupported);
  CHECK(rmcpplus_status_is_cipher_refusal(0x11));
  CHECK(rmcpplus_status_kind(RMCPPLUS_STATUS_INSUFFICIENT_RESOURCES_TO_CREATE_A_SESSION) ==
        ErrorKind::Busy);
  CHECK(rmcpplus_status_text(0x0D).find("0x0D") != std::string::npos);
}

TEST_CASE("peek and the short Open Session error reply ipmi_sim sends", "[ipmi][packets]") {
  // Captured from ipmi_sim answering an Open Session Request for cipher suite 17.
  const std::uint8_t pkt[] = {0x06, 0x00, 0xff, 0x07, 0x06, 0x11, 0,    0,    0,
                              0,    0,    0,    0,    0,    0x02, 0x00, 0x00, 0x04};
  Peek pk;
  REQUIRE(peek(ByteView(pkt, sizeof pkt), pk));
  CHECK(pk.rmcpplus);
  CHECK(pk.payload_type == IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_RESPONSE);
  CHECK(pk.console_sid == 0);
  SetupReply r;
  std::string err;
  REQUIRE(parse_open_session_response(ByteView(pkt, sizeof pkt), 0, r, &err) == ParseResult::Ok);
  CHECK(r.status == RMCPPLUS_STATUS_INVALID_AUTHENTICATION_ALGORITHM);
  CHECK(parse_open_session_response(ByteView(pkt, sizeof pkt), 1, r, &err) ==
        ParseResult::Ignore);  // another tag: not ours
  const std::uint8_t junk[] = {1, 2, 3};
  CHECK_FALSE(peek(ByteView(junk, sizeof junk), pk));
}

TEST_CASE("pre-session requests carry what the handshake needs", "[ipmi][packets]") {
  std::string err;
  Bytes caps;
  REQUIRE(build_get_channel_auth_caps(5, IPMI_PRIVILEGE_LEVEL_ADMIN, caps, &err));
  Peek pk;
  REQUIRE(peek(caps, pk));
  CHECK_FALSE(pk.rmcpplus);
  {
    // Decoded as a BMC would (libfreeipmi's unassemble wants the response header template;
    // both headers have the same layout).
    FiidObj rmcp(tmpl_rmcp_hdr), sess(tmpl_lan_session_hdr), msg(tmpl_lan_msg_hdr_rs),
        rq(tmpl_cmd_get_channel_authentication_capabilities_rq), trlr(tmpl_lan_msg_trlr);
    REQUIRE(unassemble_ipmi_lan_pkt(caps.data(), static_cast<unsigned>(caps.size()), rmcp.get(),
                                    sess.get(), msg.get(), rq.get(), trlr.get(),
                                    IPMI_INTERFACE_FLAGS_DEFAULT) >= 0);
    std::uint64_t v = 0;
    REQUIRE(rq.u64("maximum_privilege_level", v));
    CHECK(v == IPMI_PRIVILEGE_LEVEL_ADMIN);
    REQUIRE(msg.u64("rq_seq", v));
    CHECK(v == 5);
  }
  Handshake hs;
  hs.console_sid = 0xCAFEBABE;
  hs.privilege = IPMI_PRIVILEGE_LEVEL_OPERATOR;
  Algorithms a17;
  REQUIRE(cipher_suite_algorithms(17, a17));
  CHECK(a17.authentication == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA256);
  CHECK(a17.integrity == IPMI_INTEGRITY_ALGORITHM_HMAC_SHA256_128);
  CHECK(a17.confidentiality == IPMI_CONFIDENTIALITY_ALGORITHM_AES_CBC_128);
  Bytes open;
  REQUIRE(build_open_session(9, hs, a17, open, &err));
  REQUIRE(peek(open, pk));
  CHECK(pk.payload_type == IPMI_PAYLOAD_TYPE_RMCPPLUS_OPEN_SESSION_REQUEST);
  {
    // The payload follows the 16-byte RMCP + RMCP+ session header.
    REQUIRE(open.size() > 16);
    FiidObj rq(tmpl_rmcpplus_open_session_request);
    REQUIRE(fiid_obj_set_all(rq.get(), open.data() + 16, static_cast<unsigned>(open.size() - 16)) >
            0);
    std::uint64_t v = 0;
    REQUIRE(rq.u64("requested_maximum_privilege_level", v));
    CHECK(v == IPMI_PRIVILEGE_LEVEL_OPERATOR);  // explicit, never 0 ("highest")
    REQUIRE(rq.u64("remote_console_session_id", v));
    CHECK(v == 0xCAFEBABE);
    REQUIRE(rq.u64("authentication_payload.authentication_algorithm", v));
    CHECK(v == IPMI_AUTHENTICATION_ALGORITHM_RAKP_HMAC_SHA256);
  }
  Creds c;
  c.username = "operator";
  c.password = "pw";
  Bytes r1;
  REQUIRE(build_rakp1(10, hs, c, r1, &err));
  CHECK(std::search(r1.begin(), r1.end(), c.username.begin(), c.username.end()) != r1.end());
  Bytes r3_17, r3_3;
  REQUIRE(build_rakp3(11, 0, hs, c, a17, r3_17, &err));
  Algorithms a3;
  REQUIRE(cipher_suite_algorithms(3, a3));
  REQUIRE(build_rakp3(11, 0, hs, c, a3, r3_3, &err));
  // HMAC-SHA256 key exchange code is 32 bytes, HMAC-SHA1 20.
  CHECK(r3_17.size() - r3_3.size() == 12);
}

TEST_CASE("session crypto round trip for cipher suites 3 and 17", "[ipmi][packets]") {
  for (int suite : {3, 17}) {
    DYNAMIC_SECTION("suite " << suite) {
      Crypto cr(suite);
      CHECK(cr.keys.sik_len == (suite == 17 ? 32u : 20u));
      // Our request, as the BMC would decode it.
      FiidObj rq(tmpl_cmd_get_chassis_status_rq);
      REQUIRE(fill_cmd_get_chassis_status(rq.get()) >= 0);
      Bytes pkt;
      std::string err;
      REQUIRE(build_session_request(cr.keys, cr.hs.bmc_sid, 42, IPMI_NET_FN_CHASSIS_RQ, 17,
                                    rq.get(), pkt, &err));
      {
        FiidObj rmcp(tmpl_rmcp_hdr), sess(tmpl_rmcpplus_session_hdr), pl(tmpl_rmcpplus_payload),
            msg(tmpl_lan_msg_hdr_rs), got(tmpl_cmd_get_chassis_status_rq), ltrlr(tmpl_lan_msg_trlr),
            trlr(tmpl_rmcpplus_session_trlr);
        const auto& k = cr.keys;
        REQUIRE(unassemble_ipmi_rmcpplus_pkt(
                    k.alg.authentication, k.alg.integrity, k.alg.confidentiality, k.k1.data(),
                    k.k1_len, k.k2.data(), k.k2_len, pkt.data(), static_cast<unsigned>(pkt.size()),
                    rmcp.get(), sess.get(), pl.get(), msg.get(), got.get(), ltrlr.get(), trlr.get(),
                    IPMI_INTERFACE_FLAGS_DEFAULT) >= 0);
        std::uint64_t v = 0;
        REQUIRE(sess.u64("session_id", v));
        CHECK(v == cr.hs.bmc_sid);
        REQUIRE(sess.u64("session_sequence_number", v));
        CHECK(v == 42);
        REQUIRE(sess.u64("payload_type.encrypted", v));
        CHECK(v == 1);
        REQUIRE(got.u64("cmd", v));
        CHECK(v == IPMI_CMD_GET_CHASSIS_STATUS);
        CHECK(ipmi_rmcpplus_check_packet_session_authentication_code(
                  k.alg.integrity, pkt.data(), static_cast<unsigned>(pkt.size()), k.k1.data(),
                  k.k1_len, nullptr, 0, trlr.get()) == 1);
        // The payload is encrypted: the command byte does not appear in clear after the header.
        CHECK(std::search(pkt.begin(), pkt.end(), cr.creds.password.begin(),
                          cr.creds.password.end()) == pkt.end());
      }
      // The BMC's reply, decoded by us.
      Bytes reply = bmc_reply(cr.keys, cr.hs.console_sid, IPMI_NET_FN_CHASSIS_RS, 17,
                              {IPMI_CMD_GET_CHASSIS_STATUS, 0x00, 0x01, 0x00, 0x40});
      FiidObj rs(tmpl_cmd_get_chassis_status_rs);
      REQUIRE(parse_session_reply(cr.keys, cr.hs.console_sid, reply, IPMI_NET_FN_CHASSIS_RQ,
                                  IPMI_CMD_GET_CHASSIS_STATUS, 17, rs.get(),
                                  &err) == ParseResult::Ok);
      std::uint64_t on = 0;
      REQUIRE(rs.u64("current_power_state.power_is_on", on));
      CHECK(on == 1);
      // Another rq_seq, another session, or a flipped bit: not accepted.
      CHECK(parse_session_reply(cr.keys, cr.hs.console_sid, reply, IPMI_NET_FN_CHASSIS_RQ,
                                IPMI_CMD_GET_CHASSIS_STATUS, 18, rs.get(),
                                &err) == ParseResult::Ignore);
      CHECK(parse_session_reply(cr.keys, cr.hs.console_sid + 1, reply, IPMI_NET_FN_CHASSIS_RQ,
                                IPMI_CMD_GET_CHASSIS_STATUS, 17, rs.get(),
                                &err) == ParseResult::Ignore);
      Bytes bad = reply;
      bad[20] ^= 0x01;
      CHECK(parse_session_reply(cr.keys, cr.hs.console_sid, bad, IPMI_NET_FN_CHASSIS_RQ,
                                IPMI_CMD_GET_CHASSIS_STATUS, 17, rs.get(),
                                &err) == ParseResult::Ignore);
      // Keys from another password do not decode it.
      Crypto other(suite);
      other.creds.password = "other";
      Algorithms alg;
      REQUIRE(cipher_suite_algorithms(suite, alg));
      REQUIRE(compute_session_keys(other.hs, other.creds, alg, other.keys, &err));
      CHECK(parse_session_reply(other.keys, cr.hs.console_sid, reply, IPMI_NET_FN_CHASSIS_RQ,
                                IPMI_CMD_GET_CHASSIS_STATUS, 17, rs.get(),
                                &err) != ParseResult::Ok);
    }
  }
}

TEST_CASE("the IV of every encrypted packet comes from fleetpower's getrandom pool", "[ipmi][packets]") {
  // libfreeipmi draws each AES-CBC IV through ipmi_get_random(), which random.cpp replaces
  // (by ELF interposition) to avoid an open/read/close of /dev/urandom per packet.
  Crypto cr(17);
  FiidObj rq(tmpl_cmd_get_chassis_status_rq);
  REQUIRE(fill_cmd_get_chassis_status(rq.get()) >= 0);
  std::string err;
  const auto before = ipmi_get_random_calls();
  Bytes a, b;
  REQUIRE(build_session_request(cr.keys, cr.hs.bmc_sid, 7, IPMI_NET_FN_CHASSIS_RQ, 3, rq.get(), a, &err));
  REQUIRE(build_session_request(cr.keys, cr.hs.bmc_sid, 7, IPMI_NET_FN_CHASSIS_RQ, 3, rq.get(), b, &err));
  CHECK(ipmi_get_random_calls() - before == 2);  // one IV per packet, both through the replacement
  // The same request twice: the same header, a fresh IV (and so a different ciphertext).
  REQUIRE(a.size() == b.size());
  const std::size_t hdr = 4 + 12;  // RMCP header + RMCP+ session header (payload length included)
  REQUIRE(a.size() > hdr + 16);
  CHECK(std::equal(a.begin(), a.begin() + hdr, b.begin()));
  CHECK(!std::equal(a.begin() + hdr, a.begin() + hdr + 16, b.begin() + hdr));
  // The contract libfreeipmi relies on: buflen bytes, -1/EINVAL without a buffer.
  unsigned char buf[16] = {};
  CHECK(ipmi_get_random(buf, sizeof buf) == 16);
  CHECK(ipmi_get_random(nullptr, 4) == -1);
  CHECK(ipmi_get_random(buf, 0) == 0);
}

// SPDX-License-Identifier: GPL-3.0-or-later
// IPMI session setup replies as the engine decodes them: the demultiplexing peek, Get Channel
// Authentication Capabilities (IPMI 1.5 format), Open Session Response, RAKP 2 (with the key
// exchange code check) and RAKP 4 (integrity check value), then the status texts the engine
// prints.  The first byte picks the parser; tag/rq_seq/session ids come from the input so the
// fuzzer can match them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "transport/ipmi/names.hpp"
#include "transport/ipmi/packets.hpp"

namespace ip = fleetpower::ipmi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 2048) return 0;
  fpfuzz::Input in(data, size);
  const std::uint8_t which = in.u8();
  const std::uint8_t tag = in.u8();
  const std::uint32_t console_sid = in.u32();
  const std::uint8_t suite = (which & 0x80) ? 17 : 3;
  auto pkt_bytes = in.rest();
  ip::ByteView pkt(pkt_bytes.data(), pkt_bytes.size());
  std::string err;
  ip::Peek pk;
  (void)ip::peek(pkt, pk);
  ip::Creds creds;
  creds.username = "admin";
  creds.password = "fuzz-password";
  ip::Algorithms alg;
  if (!ip::cipher_suite_algorithms(suite, alg)) std::abort();
  ip::Handshake hs;
  hs.console_sid = console_sid;
  hs.bmc_sid = 0x01020304;
  for (std::size_t i = 0; i < hs.console_random.size(); ++i) hs.console_random[i] = std::uint8_t(i);
  ip::SetupReply r;
  switch (which % 4) {
    case 0: {
      ip::AuthCaps caps;
      if (ip::parse_get_channel_auth_caps(pkt, tag, caps, &err) == ip::ParseResult::Ok &&
          caps.comp_code)
        (void)ip::completion_code_text(0x06, 0x38, caps.comp_code);
      break;
    }
    case 1:
      if (ip::parse_open_session_response(pkt, tag, r, &err) == ip::ParseResult::Ok) {
        (void)ip::rmcpplus_status_text(r.status);
        (void)ip::rmcpplus_status_kind(r.status);
        (void)ip::rmcpplus_status_is_cipher_refusal(r.status);
        (void)ip::privilege_name(r.max_privilege);
      }
      break;
    case 2: {
      bool auth_ok = false;
      if (ip::parse_rakp2(pkt, tag, hs, creds, alg, r, auth_ok, &err) == ip::ParseResult::Ok) {
        (void)ip::rmcpplus_status_text(r.status);
        if (r.status == 0) {
          ip::SessionKeys keys;
          if (!ip::compute_session_keys(hs, creds, alg, keys, &err)) std::abort();
          keys.wipe();
        }
      }
      break;
    }
    default: {
      ip::SessionKeys keys;
      if (!ip::compute_session_keys(hs, creds, alg, keys, &err)) std::abort();
      bool icv_ok = false;
      if (ip::parse_rakp4(pkt, tag, hs, keys, r, icv_ok, &err) == ip::ParseResult::Ok)
        (void)ip::rmcpplus_status_text(r.status);
      break;
    }
  }
  return 0;
}

// SPDX-License-Identifier: GPL-3.0-or-later
// In-session IPMI replies as the engine decodes them: parse_session_reply() into the reply
// template of each command the engine sends, then the fields the engine reads from it and the
// completion code text.  Keys: either no integrity/confidentiality (so the fuzzer reaches the
// message and body decoding) or fixed cipher suite 3 / 17 session keys (so it exercises the
// integrity, pad and decryption checks).
#include <freeipmi/freeipmi.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "transport/ipmi/names.hpp"
#include "transport/ipmi/packets.hpp"

namespace ip = fleetpower::ipmi;

namespace {
struct Cmd {
  fiid_template_t* tmpl;
  std::uint8_t netfn, cmd;
};
const Cmd kCmds[] = {
    {&tmpl_cmd_set_session_privilege_level_rs, IPMI_NET_FN_APP_RQ, IPMI_CMD_SET_SESSION_PRIVILEGE_LEVEL},
    {&tmpl_cmd_get_chassis_status_rs, IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_GET_CHASSIS_STATUS},
    {&tmpl_cmd_chassis_control_rs, IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_CHASSIS_CONTROL},
    {&tmpl_cmd_chassis_identify_rs, IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_CHASSIS_IDENTIFY},
    {&tmpl_cmd_set_system_boot_options_rs, IPMI_NET_FN_CHASSIS_RQ, IPMI_CMD_SET_SYSTEM_BOOT_OPTIONS},
    {&tmpl_cmd_get_system_boot_options_boot_flags_rs, IPMI_NET_FN_CHASSIS_RQ,
     IPMI_CMD_GET_SYSTEM_BOOT_OPTIONS},
    {&tmpl_cmd_get_device_id_rs, IPMI_NET_FN_APP_RQ, IPMI_CMD_GET_DEVICE_ID},
    {&tmpl_cmd_get_channel_cipher_suites_rs, IPMI_NET_FN_APP_RQ, IPMI_CMD_GET_CHANNEL_CIPHER_SUITES},
    {&tmpl_cmd_close_session_rs, IPMI_NET_FN_APP_RQ, IPMI_CMD_CLOSE_SESSION},
};
constexpr const char* kFields[] = {
    "comp_code", "boot_device", "boot_flags_persistent", "bios_boot_type", "boot_flags_valid",
    "current_power_state.power_is_on", "current_power_state.power_restore_policy",
    "misc_chassis_state.chassis_identify_command_and_state_info_supported",
    "misc_chassis_state.chassis_identify_state", "manufacturer_id.id", "product_id",
    "firmware_revision1.major_revision", "firmware_revision2.minor_revision", "device_id",
    "ipmi_version_major", "ipmi_version_minor"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 2048) return 0;
  fpfuzz::Input in(data, size);
  const std::uint8_t which = in.u8();
  const std::uint8_t rq_seq = in.u8();
  const std::uint32_t console_sid = in.u32();
  const Cmd& c = kCmds[which % (sizeof kCmds / sizeof kCmds[0])];
  ip::SessionKeys keys;
  std::string err;
  const int mode = (which >> 4) % 3;  // 0: no integrity, 1: suite 3, 2: suite 17
  if (mode) {
    ip::Creds creds;
    creds.username = "admin";
    creds.password = "fuzz-password";
    ip::Handshake hs;
    hs.console_sid = console_sid;
    hs.bmc_sid = 0x01020304;
    ip::Algorithms alg;
    if (!ip::cipher_suite_algorithms(mode == 1 ? 3 : 17, alg) ||
        !ip::compute_session_keys(hs, creds, alg, keys, &err))
      std::abort();
  }
  auto pkt_bytes = in.rest();
  ip::ByteView pkt(pkt_bytes.data(), pkt_bytes.size());
  ip::Peek pk;
  if (!ip::peek(pkt, pk)) return 0;  // the engine drops these before any session sees them
  ip::FiidObj rs(*c.tmpl);
  if (ip::parse_session_reply(keys, console_sid, pkt, c.netfn, c.cmd, rq_seq, rs.get(), &err) !=
      ip::ParseResult::Ok)
    return 0;
  std::uint64_t v = 0;
  for (const char* f : kFields) rs.u64(f, v);
  std::uint8_t page[16];
  (void)rs.data("cipher_suite_record_data", page, sizeof page);
  std::uint64_t cc = 0;
  if (rs.u64("comp_code", cc) && cc) {
    (void)ip::completion_code_text(c.netfn, c.cmd, static_cast<std::uint8_t>(cc));
    (void)ip::completion_code_kind(static_cast<std::uint8_t>(cc));
  }
  return 0;
}

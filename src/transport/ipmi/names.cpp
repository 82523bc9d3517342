// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/names.hpp"

#include <freeipmi/freeipmi.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace fleetpower::ipmi {

std::string completion_code_text(std::uint8_t netfn, std::uint8_t cmd, std::uint8_t cc) {
  char buf[256] = {};
  if (ipmi_completion_code_strerror_r(cmd, netfn, cc, buf, sizeof buf - 1) < 0 || !buf[0])
    return fmt::format("0x{:02X}", cc);
  return fmt::format("0x{:02X} ({})", cc, buf);
}

ErrorKind completion_code_kind(std::uint8_t cc) {
  switch (cc) {
    case 0xC0:
      return ErrorKind::Busy;  // node busy
    case 0xD4:
      return ErrorKind::Privilege;  // insufficient privilege level
    case 0xC1:                      // invalid command
    case 0xC2:                      // command invalid for given LUN
    case 0xC9:                      // parameter out of range
    case 0xCC:                      // invalid data field in request
    case 0xD5:                      // not supported in present state
    case 0xD6:                      // sub-function disabled or unavailable
    case 0x80:                      // (boot options) parameter not supported
      return ErrorKind::Unsupported;
    default:
      return ErrorKind::BmcError;
  }
}

std::string rmcpplus_status_text(std::uint8_t status) {
  char buf[256] = {};
  if (ipmi_rmcpplus_status_strerror_r(status, buf, sizeof buf - 1) < 0 || !buf[0])
    return fmt::format("RMCP+ status 0x{:02X}", status);
  return fmt::format("{} (RMCP+ status 0x{:02X})", buf, status);
}

bool rmcpplus_status_is_cipher_refusal(std::uint8_t status) {
  switch (status) {
    case RMCPPLUS_STATUS_INVALID_AUTHENTICATION_ALGORITHM:
    case RMCPPLUS_STATUS_INVALID_INTEGRITY_ALGORITHM:
    case RMCPPLUS_STATUS_NO_MATCHING_AUTHENTICATION_PAYLOAD:
    case RMCPPLUS_STATUS_NO_MATCHING_INTEGRITY_PAYLOAD:
    case 0x10:  // invalid confidentiality algorithm
    case 0x11:  // no cipher suite match with proposed security algorithms
      return true;
    default:
      return false;
  }
}

ErrorKind rmcpplus_status_kind(std::uint8_t status) {
  if (rmcpplus_status_is_cipher_refusal(status)) return ErrorKind::Unsupported;
  switch (status) {
    case RMCPPLUS_STATUS_UNAUTHORIZED_NAME:
    case RMCPPLUS_STATUS_INVALID_NAME_LENGTH:
    case RMCPPLUS_STATUS_UNAUTHORIZED_GUID:
    case 0x0F:  // invalid integrity check value
      return ErrorKind::Auth;
    case RMCPPLUS_STATUS_INVALID_ROLE:
    case RMCPPLUS_STATUS_UNAUTHORIZED_ROLE_OR_PRIVILEGE_LEVEL_REQUESTED:
      return ErrorKind::Privilege;
    case RMCPPLUS_STATUS_INSUFFICIENT_RESOURCES_TO_CREATE_A_SESSION:
    case RMCPPLUS_STATUS_INSUFFICIENT_RESOURCES_TO_CREATE_A_SESSION_AT_THE_REQUESTED_TIME:
      return ErrorKind::Busy;
    default:
      return ErrorKind::Protocol;
  }
}

std::string_view privilege_name(std::uint8_t level) {
  switch (level) {
    case 1:
      return "callback";
    case 2:
      return "user";
    case 3:
      return "operator";
    case 4:
      return "admin";
    case 5:
      return "oem";
    default:
      return "none";
  }
}

namespace {
std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
bool hex_decode(std::string_view in, std::string& out) {
  if (in.size() % 2) return false;
  out.clear();
  auto nib = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); i += 2) {
    int hi = nib(in[i]), lo = nib(in[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}
}  // namespace

bool make_settings(const Target& t, const Credential& c, const Options& d, Settings& out,
                   std::string& reason) {
  out = Settings{};
  // Cipher suite.
  std::string cs = lower(t.var_or("cipher_suite", ""));
  if (cs.empty()) {
    switch (d.default_cipher) {
      case CipherChoice::Auto:
        cs = "auto";
        break;
      case CipherChoice::Suite3:
        cs = "3";
        break;
      case CipherChoice::Suite17:
        cs = "17";
        break;
    }
  }
  if (cs == "auto") {
    out.ciphers = {17, 3};
    out.cipher_auto = true;
  } else if (cs == "3" || cs == "17") {
    out.ciphers = {std::stoi(cs)};
  } else {
    reason = fmt::format("cipher_suite '{}' is not supported (use auto, 3 or 17)", cs);
    return false;
  }
  // Privilege.
  std::string pv = lower(t.var_or("privilege", ""));
  if (pv.empty())
    out.privilege = static_cast<std::uint8_t>(d.default_privilege);
  else if (pv == "user")
    out.privilege = 2;
  else if (pv == "operator")
    out.privilege = 3;
  else if (pv == "admin" || pv == "administrator")
    out.privilege = 4;
  else {
    reason = fmt::format("privilege '{}' is not valid (use user, operator or admin)", pv);
    return false;
  }
  // Credentials: IPMI 2.0 limits, never truncated.
  if (c.username.size() > IPMI_MAX_USER_NAME_LENGTH) {
    reason = fmt::format("user name is {} bytes, longer than the IPMI limit of {} bytes",
                         c.username.size(), IPMI_MAX_USER_NAME_LENGTH);
    return false;
  }
  if (c.password.reveal().size() > IPMI_2_0_MAX_PASSWORD_LENGTH) {
    reason = fmt::format("password is longer than the IPMI 2.0 limit of {} bytes",
                         IPMI_2_0_MAX_PASSWORD_LENGTH);
    return false;
  }
  std::string kg = c.kg_key.reveal();
  if (kg.size() > 2 && (kg.rfind("0x", 0) == 0 || kg.rfind("0X", 0) == 0)) {
    std::string raw;
    if (!hex_decode(std::string_view(kg).substr(2), raw)) {
      reason = "K_g key starts with 0x but is not valid hex";
      return false;
    }
    kg = std::move(raw);
  }
  if (kg.size() > IPMI_MAX_K_G_LENGTH) {
    reason = fmt::format("K_g key is longer than the IPMI limit of {} bytes", IPMI_MAX_K_G_LENGTH);
    return false;
  }
  out.creds.username = c.username;
  out.creds.password = c.password.reveal();
  out.creds.kg = std::move(kg);
  return true;
}

}  // namespace fleetpower::ipmi

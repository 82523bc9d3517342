// SPDX-License-Identifier: GPL-3.0-or-later
// Completion codes and RMCP+ status codes by name, their ErrorKind, and per-target settings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/target.hpp"
#include "core/types.hpp"
#include "transport/ipmi/ipmi_backend.hpp"
#include "transport/ipmi/packets.hpp"

namespace fleetpower::ipmi {

/// "0xCC (Invalid data field in request)": the code and libfreeipmi's text for it.
std::string completion_code_text(std::uint8_t netfn, std::uint8_t cmd, std::uint8_t cc);
/// Class of a non-zero completion code (0xC0 busy is handled by the caller: it retries).
ErrorKind completion_code_kind(std::uint8_t cc);

std::string rmcpplus_status_text(std::uint8_t status);
ErrorKind rmcpplus_status_kind(std::uint8_t status);
/// True when the status says "this cipher suite is not offered" (auto falls back).
bool rmcpplus_status_is_cipher_refusal(std::uint8_t status);

std::string_view privilege_name(std::uint8_t level);

/// Everything one target needs, validated from Target::vars and the Credential.
struct Settings {
  std::vector<int> ciphers;  ///< suites to try in order (auto: 17, 3)
  bool cipher_auto = false;
  std::uint8_t privilege = 3;
  Creds creds;
};
/// False with a Config reason ("password longer than 20 bytes (IPMI 2.0 limit)").
bool make_settings(const Target& t, const Credential& c, const Options& defaults, Settings& out,
                   std::string& reason);

}  // namespace fleetpower::ipmi

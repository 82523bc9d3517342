// SPDX-License-Identifier: GPL-3.0-or-later
#include "plugin/plugin.hpp"

#include <algorithm>
#include <array>

namespace fleetpower::plugin {

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::Ipmi:
      return "ipmi";
    case Transport::Redfish:
      return "redfish";
    case Transport::Ssh:
      return "ssh";
  }
  return "?";
}

std::optional<Transport> parse_transport(std::string_view s) {
  if (s == "ipmi") return Transport::Ipmi;
  if (s == "redfish") return Transport::Redfish;
  if (s == "ssh") return Transport::Ssh;
  return std::nullopt;
}

bool MatchRule::empty() const { return fields() == 0; }

int MatchRule::fields() const {
  return !redfish_vendor.empty() + !redfish_oem.empty() + !redfish_product.empty() + !manager_model.empty() +
         !manager_firmware.empty() + !manager_manufacturer.empty() + !ipmi_manufacturer.empty() +
         !ipmi_product.empty();
}

bool MatchRule::redfish_only() const {
  return ipmi_manufacturer.empty() && ipmi_product.empty() && !empty();
}

bool MatchRule::ipmi_only() const {
  return redfish_vendor.empty() && redfish_oem.empty() && redfish_product.empty() && manager_model.empty() &&
         manager_firmware.empty() && manager_manufacturer.empty() && !empty();
}

bool Descriptor::applies_to(Transport t) const {
  return std::find(transports.begin(), transports.end(), t) != transports.end();
}

std::string_view cycle_mode_name(CycleMode m) {
  switch (m) {
    case CycleMode::Auto:
      return "auto";
    case CycleMode::PowerCycle:
      return "power-cycle";
    case CycleMode::OffWaitOn:
      return "off-wait-on";
  }
  return "?";
}

std::string_view graceful_restart_name(GracefulRestartMode m) {
  switch (m) {
    case GracefulRestartMode::Native:
      return "native";
    case GracefulRestartMode::ShutdownWaitOn:
      return "shutdown-wait-on";
    case GracefulRestartMode::Unsupported:
      return "unsupported";
  }
  return "?";
}

std::string_view settings_mode_name(SettingsMode m) {
  switch (m) {
    case SettingsMode::Auto:
      return "auto";
    case SettingsMode::Always:
      return "always";
    case SettingsMode::Never:
      return "never";
  }
  return "?";
}

bool IpmiProfile::has(std::string_view w) const {
  return std::find(workarounds.begin(), workarounds.end(), w) != workarounds.end();
}

const std::vector<std::string_view>& known_ipmi_workarounds() {
  // FreeIPMI's workaround flag names (ipmipower/ipmitool-style -W), the ones that concern
  // out-of-band sessions.
  static const std::vector<std::string_view> k = {
      "authcap",          // Get Channel Authentication Capabilities reply with bad bits
      "idzero",           // session id zero in replies
      "unexpectedauth",   // authentication code where none was negotiated
      "forcepermsg",      // force per-message authentication
      "endianseq",        // sequence numbers in the wrong byte order
      "noauthcodecheck",  // do not check authentication codes (IPMI 1.5)
      "intel20",          // Intel IPMI 2.0 session quirks
      "supermicro20",     // Supermicro IPMI 2.0 session quirks
      "sun20",            // Sun IPMI 2.0 session quirks
      "opensesspriv",     // Open Session reply echoes a wrong privilege level
      "integritycheckvalue",  // wrong integrity check value length (HMAC-MD5-128 for SHA256)
      "nochecksumcheck",  // do not check IPMI message checksums
      "assumeio",         // no power-on delay support; treat power as I/O only
      "nosetsesspriv",    // do not send Set Session Privilege Level after RAKP 4
  };
  return k;
}

std::string_view source_name(Source s) {
  switch (s) {
    case Source::BuiltIn:
      return "built-in";
    case Source::Profile:
      return "profile";
    case Source::SharedObject:
      return "shared object";
  }
  return "?";
}

}  // namespace fleetpower::plugin

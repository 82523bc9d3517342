// SPDX-License-Identifier: GPL-3.0-or-later
// Plugin API v1: what a vendor plugin is (descriptor + vendor profile + optional code hooks).
// The profile schema and the shared-object ABI are documented in plugins/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace fleetpower::plugin {

/// The API version this build speaks.  A plugin built for another version is refused.
inline constexpr int kApiVersion = 1;

/// Transports a plugin applies to.
enum class Transport : std::uint8_t { Ipmi, Redfish, Ssh };
std::string_view transport_name(Transport t);
std::optional<Transport> parse_transport(std::string_view s);

/// One way to recognise a plugin's hardware.  Every field that is set must match (AND); a
/// field with several values matches when any of them does.  Strings are case-insensitive
/// glob patterns (`*`, `?`).
struct MatchRule {
  std::vector<std::string> redfish_vendor;        ///< service root Vendor
  std::vector<std::string> redfish_oem;           ///< a key of the service root's Oem object
  std::vector<std::string> redfish_product;       ///< service root Product
  std::vector<std::string> manager_model;         ///< Manager Model
  std::vector<std::string> manager_firmware;      ///< Manager FirmwareVersion
  std::vector<std::string> manager_manufacturer;  ///< Manager Manufacturer
  std::vector<std::uint32_t> ipmi_manufacturer;   ///< Get Device ID manufacturer id (IANA)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ipmi_product;  ///< product id ranges

  bool empty() const;
  /// Number of fields set (specificity, breaks ties between equal priorities).
  int fields() const;
  bool redfish_only() const;
  bool ipmi_only() const;
};

/// What a Redfish BMC told us about itself (service root + first Manager).
struct RedfishIdentity {
  std::string vendor, product;
  std::vector<std::string> oem_keys;
  std::string manager_model, manager_firmware, manager_manufacturer;
  bool have_manager = false;
};

/// What an IPMI BMC told us (Get Device ID).
struct IpmiIdentity {
  std::uint32_t manufacturer = 0;
  std::uint32_t product = 0;
};

/// The descriptor: who the plugin is and how to recognise its hardware.
struct Descriptor {
  std::string name;         ///< unique; inventory `vendor: NAME` selects it
  std::string version;      ///< the plugin's own version ("1.0")
  int api_version = kApiVersion;
  std::string description;
  std::vector<Transport> transports;
  std::vector<MatchRule> match;  ///< empty: never auto-detected (selected by name or as fallback)
  int priority = 0;              ///< higher wins when several plugins match

  bool applies_to(Transport t) const;
};

/// How a power cycle is done over Redfish.
enum class CycleMode : std::uint8_t {
  Auto,       ///< PowerCycle when the BMC allows it, else off-wait-on
  PowerCycle, ///< always ResetType PowerCycle (the first `cycle` preference)
  OffWaitOn,  ///< always ForceOff, wait for Off, then On
};
/// How "restart the OS gracefully" is done (reset preference GracefulRestart).
enum class GracefulRestartMode : std::uint8_t {
  Native,           ///< ResetType GracefulRestart
  ShutdownWaitOn,   ///< GracefulShutdown, wait for Off, then On (firmware whose GracefulRestart is a hard reset)
  Unsupported,      ///< never send GracefulRestart
};
/// When to PATCH the boot override through the system's @Redfish.Settings object.
enum class SettingsMode : std::uint8_t { Auto, Always, Never };

std::string_view cycle_mode_name(CycleMode m);
std::string_view graceful_restart_name(GracefulRestartMode m);
std::string_view settings_mode_name(SettingsMode m);

struct RedfishProfile {
  /// Path hints: tried first when no inventory `system` is given (e.g. iDRAC's
  /// /redfish/v1/Systems/System.Embedded.1); empty: discover through the collection.
  std::string system_path;
  std::string manager_path;
  /// ResetType preference per fleetpower action (on, off, soft, reset, nmi, cycle), in order;
  /// the first one the BMC allows is sent.  Absent actions keep the generic order.
  std::map<Action, std::vector<std::string>> reset;
  /// Known-bad ResetType values: never sent even when the BMC advertises them.
  std::vector<std::string> avoid_reset_types;
  CycleMode cycle = CycleMode::Auto;
  GracefulRestartMode graceful_restart = GracefulRestartMode::Native;
  /// Poll interval while waiting for a state (cycle emulation, end-state verification).
  std::optional<Millis> poll_interval;
  /// Poll interval for task monitors without Retry-After.
  std::optional<Millis> task_poll_interval;
  /// Do not trust the BMC's AllowableValues (malformed lists): act on the preferences.
  bool ignore_allowed_values = false;
  /// A 2xx/4xx reply whose body is an `error` envelope with a Success message id counts as
  /// success (HPE iLO).
  bool success_in_error_envelope = false;
  struct Boot {
    bool supported = true;         ///< false: no Boot object, bootdev is refused up front
    bool echo_mode = true;         ///< echo the current BootSourceOverrideMode (false: only with --efi)
    SettingsMode settings = SettingsMode::Auto;
    bool continuous = true;        ///< false: BootSourceOverrideEnabled Continuous is refused
    std::vector<std::string> avoid_targets;  ///< BootSourceOverrideTarget values never sent
  } boot;
};

struct IpmiProfile {
  /// FreeIPMI-style workaround names (see kIpmiWorkarounds).
  std::vector<std::string> workarounds;
  std::optional<int> cipher_suite;  ///< default cipher suite (inventory `cipher_suite` wins)
  std::optional<std::string> privilege;  ///< default privilege level
  std::optional<Millis> poll_interval;

  bool has(std::string_view w) const;
};

/// The IPMI workarounds a profile may name (FreeIPMI `-W` names).
const std::vector<std::string_view>& known_ipmi_workarounds();

/// The data half of a plugin.
struct VendorProfile {
  RedfishProfile redfish;
  IpmiProfile ipmi;
};

// ---- code hooks ---------------------------------------------------------------------------

/// A Redfish request about to be sent; hooks may rewrite it.
struct RedfishRequestView {
  std::string_view step;  ///< what the engine is doing ("reset", "boot override", ...)
  std::string method;     ///< GET, POST, PATCH, DELETE
  std::string path;
  std::string body;
};

/// Code for real quirks that data cannot express.  Every method defaults to "no change".
/// Hooks run on the event-loop thread: they must not block.
class Hooks {
 public:
  virtual ~Hooks() = default;
  /// Rewrite a request before it is sent.
  virtual void redfish_request(RedfishRequestView& /*req*/) {}
  /// Rewrite a reply (status, body) before the engine interprets it.
  virtual void redfish_response(std::string_view /*step*/, int& /*status*/, std::string& /*body*/) {}
  /// Repair an AllowableValues list parsed from the BMC (already cleaned to known values).
  virtual void redfish_allowed_reset_types(std::vector<std::string>& /*allowed*/) {}
  /// Map a non-standard PowerState string; nullopt: use the standard mapping.
  virtual std::optional<PowerState> redfish_power_state(std::string_view /*raw*/) { return std::nullopt; }
};

/// Where a plugin came from.
enum class Source : std::uint8_t { BuiltIn, Profile, SharedObject };
std::string_view source_name(Source s);

struct Plugin {
  Descriptor desc;
  VendorProfile profile;
  std::shared_ptr<Hooks> hooks;  ///< null: none
  Source source = Source::BuiltIn;
  std::string origin;            ///< "built-in" or the file path
  std::string overrides;         ///< origin of the plugin of the same name this one replaced
};

}  // namespace fleetpower::plugin

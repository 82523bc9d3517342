// SPDX-License-Identifier: GPL-3.0-or-later
// Redfish resource parsing and discovery decisions: pure functions over untrusted JSON.
// Nothing here throws, blocks or performs I/O; every function reports a reason on failure.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "plugin/plugin.hpp"

namespace fleetpower::redfish {

namespace json = boost::json;

struct ParseLimits {
  std::size_t max_bytes = 4 * 1024 * 1024;
  std::size_t max_depth = 64;
};

/// Parses untrusted bytes with size and depth limits, without throwing.
bool parse_json(std::string_view body, const ParseLimits& lim, json::value& out, std::string* err);

/// obj[key] as a string, if it is one.
std::optional<std::string_view> get_string(const json::object& o, std::string_view key);
/// obj[key]["@odata.id"], if present and a string.
std::optional<std::string> get_link(const json::object& o, std::string_view key);

/// What the service root tells us.
struct ServiceRoot {
  std::string systems;   ///< Systems collection
  std::string managers;  ///< Managers collection
  std::string sessions;  ///< Sessions collection (Links.Sessions or SessionService/Sessions)
  std::string session_service;
  std::string vendor, product, redfish_version;
  std::vector<std::string> oem_keys;
};
bool parse_service_root(const json::value& v, ServiceRoot& out, std::string* err);

/// Members[].@odata.id of a collection (entries without a string id are skipped).
bool parse_collection(const json::value& v, std::vector<std::string>& members, std::string* err);

/// Picks one system: `selector` (inventory `system`) matches a member's path or its last segment
/// (the Id).  Without a selector a single member is taken; several members need a selector.
bool select_system(const std::vector<std::string>& members, const std::string* selector,
                   std::string& chosen, std::string* err);

/// The known ResetType values in their canonical spelling.
const std::vector<std::string_view>& known_reset_types();

/// Validates an AllowableValues list from a BMC: only known ResetType strings survive (matched
/// case-insensitively, returned canonical).  Returns nullopt if the list is not a usable array.
std::optional<std::vector<std::string>> clean_reset_list(const json::value& v);

struct BootInfo {
  bool present = false;
  std::string target, enabled, mode;
  std::vector<std::string> allowed_targets;  ///< empty: not advertised
};

struct SystemInfo {
  std::string path, id;
  PowerState state = PowerState::Unknown;
  std::string raw_power_state;
  std::string reset_target;                               ///< Actions/#ComputerSystem.Reset/target
  std::optional<std::vector<std::string>> reset_allowed;  ///< nullopt: unknown (ask ActionInfo)
  std::string reset_action_info;                          ///< @Redfish.ActionInfo link, if any
  bool reset_list_malformed = false;  ///< an inline list was present but unusable
  BootInfo boot;
  std::string odata_etag;     ///< @odata.etag in the body
  std::string settings_path;  ///< @Redfish.Settings/SettingsObject
  std::string settings_etag;
  std::optional<std::string> indicator_led;
  std::optional<bool> location_indicator_active;
  std::vector<std::string> managed_by;
  std::vector<std::string> chassis;  ///< Links.Chassis (where its power readings live)
};
bool parse_system(const json::value& v, SystemInfo& out, std::string* err);

/// Where a Chassis keeps its power readings (links; empty when absent).
struct ChassisPowerLinks {
  std::string power;                ///< Power (deprecated, widely implemented): PowerControl[]
  std::string environment_metrics;  ///< EnvironmentMetrics (newer): PowerWatts.Reading
  std::string power_subsystem;      ///< PowerSubsystem (newer): PowerSupplies[].Metrics
};
bool parse_chassis_power_links(const json::value& v, ChassisPowerLinks& out, std::string* err);
/// Power: the first PowerControl member with a numeric PowerConsumedWatts.  nullopt with *why.
std::optional<double> parse_power_consumed(const json::value& v, std::string* why);
/// PowerSubsystem: the PowerSupplies collection link ("" when absent).
std::string parse_power_supplies_link(const json::value& v);
/// PowerSupply: its Metrics link ("" when absent).
std::string parse_power_supply_metrics_link(const json::value& v);
/// PowerSupplyMetrics: InputPowerWatts.Reading.  nullopt with *why.
std::optional<double> parse_psu_input_power(const json::value& v, std::string* why);
/// EnvironmentMetrics: PowerWatts.Reading.  nullopt with *why.
std::optional<double> parse_environment_power(const json::value& v, std::string* why);

/// Parameters[Name == ResetType].AllowableValues of an ActionInfo resource.
bool parse_reset_action_info(const json::value& v, std::vector<std::string>& allowed,
                             std::string* err);

std::optional<PowerState> parse_power_state(std::string_view s);

/// The reset type to send for an action, or nullopt when the allowed list rules it out.
/// With an unknown list (nullopt) the first preference is returned and the BMC decides.
/// For Cycle, nullopt means "emulate with off, wait, on".
std::optional<std::string> choose_reset_type(
    Action a, const std::optional<std::vector<std::string>>& allowed);
/// The "on" half of an emulated cycle: On, else ForceOn.
std::optional<std::string> choose_on_type(const std::optional<std::vector<std::string>>& allowed);

/// The same with a vendor profile: its per-action preference order (generic order for actions it
/// does not list), without its avoided types (and without GracefulRestart when its
/// graceful_restart is unsupported).  Cycle follows the profile's cycle mode: nullopt means
/// "emulate".  A default-constructed profile gives exactly the generic choices above.
std::optional<std::string> choose_reset_type(Action a, const std::optional<std::vector<std::string>>& allowed,
                                             const plugin::RedfishProfile& prof);
std::optional<std::string> choose_on_type(const std::optional<std::vector<std::string>>& allowed,
                                          const plugin::RedfishProfile& prof);

/// An `error` envelope whose @Message.ExtendedInfo message ids all mean success (HPE iLO answers
/// some successful actions this way).
bool is_success_envelope(std::string_view body, const ParseLimits& lim);

/// Redfish BootSourceOverrideTarget for a boot device.
std::string_view boot_target_name(BootDevice d);

struct ManagerInfo {
  std::string model, firmware, manufacturer, manager_type;
};
bool parse_manager(const json::value& v, ManagerInfo& out, std::string* err);

/// Lower-case vendor id (hpe, dell, lenovo, supermicro, openbmc, ami, ...), or "generic".
std::string detect_vendor(const ServiceRoot& root, const ManagerInfo* mgr);

/// The most useful human message of an error body: @Message.ExtendedInfo[].Message (joined),
/// else error.message.  Empty when there is none.
std::string error_message(std::string_view body, const ParseLimits& lim);

/// Task resource state ("Completed", "Running", ...), and its first message.
struct TaskInfo {
  std::string state, status, message;
};
bool parse_task(const json::value& v, TaskInfo& out);

/// Accepts SHA-256 fingerprints as 64 hex digits with or without ':' / ' ' / '-' separators,
/// optionally prefixed "sha256:" / "SHA256=".  Returns 64 lower-case hex digits.
std::optional<std::string> normalize_fingerprint(std::string_view s);
/// "AB:CD:..." from 32 raw bytes.
std::string format_fingerprint(const unsigned char* digest, std::size_t n);

/// Retry-After: delta-seconds (HTTP dates and junk give nullopt).
std::optional<int> parse_retry_after(std::string_view s);

}  // namespace fleetpower::redfish

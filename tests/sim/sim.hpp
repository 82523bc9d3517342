// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: shared declarations.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fleetpower::sim {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

/// "500ms", "2s", "1m", "1.5s", bare number = seconds.  Returns false on bad input.
bool parse_duration(std::string_view s, Millis* out);

// Small helpers shared by the Redfish and IPMI personalities (sim_tree.cpp).
/// UTC time as "2026-01-31T12:00:00.000Z"; the same instant in ms since the epoch in *epoch_ms.
std::string iso_now(std::int64_t* epoch_ms);
/// n random characters from an alphabet without look-alikes (OpenSSL's RNG).
std::string random_password(std::size_t n);
/// Writes path through path.tmp and a rename, with the given mode; false and *err on failure.
bool write_file_atomic(const std::string& path, const std::string& text, unsigned mode, std::string* err);
/// A YAML double-quoted scalar.
std::string yaml_quote(const std::string& s);
/// {"@odata.id": path}
inline boost::json::object oid(const std::string& path) { return boost::json::object{{"@odata.id", path}}; }

// ---------------------------------------------------------------------------------------------
// Personality: one Redfish tree, parsed once and shared by every BMC that serves it.

/// One ComputerSystem of a tree, with what the state machine needs.
struct SystemTemplate {
  std::string id;                          ///< "437XR1138R2"
  std::string path;                        ///< "/redfish/v1/Systems/437XR1138R2"
  std::string reset_target;                ///< POST target of #ComputerSystem.Reset ("" = none)
  std::vector<std::string> reset_allowed;  ///< allowed ResetType values (never empty if target)
  std::string reset_allowed_source;        ///< "inline", "actioninfo", "default"
  boost::json::object base;                ///< the resource as served by the tree
  std::string power_initial;               ///< PowerState found in the tree ("On" when absent)
  std::vector<std::string> boot_targets;   ///< BootSourceOverrideTarget allowable ("" = any)
  std::vector<std::string> boot_enabled_allowed;  ///< BootSourceOverrideEnabled allowable ("" = any)
  std::string oem_button_target;  ///< OEM power-button action (iLO: HpeComputerSystemExt.PowerButton)
  bool has_boot = false;
  bool has_indicator_led = false;
  bool has_location_indicator = false;
  std::string chassis;  ///< first Links.Chassis: where the power readings are served
};

struct Personality {
  std::string name;    ///< "rackmount", "blade", or the mockup directory name
  std::string source;  ///< "builtin" or the directory path
  /// Static resources: normalized path ("/redfish/v1/Chassis/1U") -> serialized JSON body.
  std::unordered_map<std::string, std::string> raw;
  std::vector<SystemTemplate> systems;
  std::string sessions_path = "/redfish/v1/SessionService/Sessions";
  std::string session_service_path = "/redfish/v1/SessionService";
  std::string vendor;         ///< from the service root (Vendor / Oem key / Product)
  bool hpe_envelope = false;  ///< iLO style: success replies wrapped in an "error" object
  bool expand = false;        ///< root advertises ProtocolFeaturesSupported.ExpandQuery
  std::unordered_map<std::string, std::size_t> reset_targets;  ///< target path -> system index
  std::unordered_map<std::string, std::size_t> system_paths;   ///< system path -> index
  std::unordered_map<std::string, std::size_t> oem_button_targets;  ///< OEM button -> index

  // Vendor personality (--vendor / --vendor-mix): what the real BMC family does differently.
  std::string vendor_id;    ///< "dell", "hpe", "hpe-ilo4", ...; empty for plain trees
  std::string plugin;       ///< the fleetpower plugin meant for it ("dell-idrac", ...)
  bool graceful_restart_hard = false;  ///< iDRAC: GracefulRestart performs a hard reset
  bool strict_state = false;           ///< iLO: On while On / Off while Off -> 400
  bool malformed_reset_list = false;   ///< Supermicro: ResetType list served as one string
  bool boot_mode_required = false;     ///< Supermicro: Boot PATCH must carry the Mode
  bool require_if_match = false;       ///< AMI: PATCH without If-Match -> 428
  std::string settings_suffix;         ///< AMI "/SD": Boot only writable there
  std::string settings_error_id;       ///< MessageId when Boot is PATCHed on the System
  std::string reject_id;               ///< bmcweb: unknown ResetType -> ActionParameterUnknown
  std::unordered_map<std::string, std::size_t> chassis_paths;  ///< a system's chassis -> index
};

/// Strip query/fragment, collapse a trailing slash; "/redfish/v1/" -> "/redfish/v1".
std::string normalize_path(std::string_view target);

/// Load a mockup directory (short form `<dir>/<path>/index.json`, or `<dir>/redfish/v1/...`).
bool load_mockup_dir(const std::string& dir, Personality* out, std::string* err);
/// Built-in personalities: "rackmount", "blade".  Returns false for an unknown name.
bool load_builtin(const std::string& name, Personality* out, std::string* err);
/// After `raw` is filled: find systems, reset targets, allowed values, session paths, vendor.
bool index_personality(Personality* p, std::string* err);
std::vector<std::string> builtin_names();
/// Loads several folders of loose fixtures as one tree (first file claiming a path wins).
bool load_fixture_dirs(const std::vector<std::string>& dirs, Personality* out, std::string* err);

// ---------------------------------------------------------------------------------------------
// Vendor personalities (sim_vendor.cpp): a shared mockup tree (or a DMTF tree with the vendor's
// fields set) plus the quirks of that BMC family.

std::vector<std::string> vendor_names();
/// Builds vendor `name` from the trees under `mockup_root`.  Returns false with *err.
bool load_vendor(const std::string& name, const std::string& mockup_root, Personality* out,
                 std::string* err);
struct IpmiIdent {
  std::uint32_t manufacturer = 0;  ///< IANA enterprise number (20 bits on the wire)
  std::uint16_t product = 0x5046;
  std::string plugin;
};
/// IPMI Get Device ID identity of a vendor personality; false for an unknown name.
bool vendor_ipmi_ident(const std::string& name, IpmiIdent* out);
/// "dell,hpe,..." -> names, checked against vendor_names().
bool parse_vendor_list(std::string_view spec, std::vector<std::string>* out, std::string* err);

// ---------------------------------------------------------------------------------------------
// Faults: per-BMC knobs.

struct Faults {
  Millis latency{0};          ///< latency=2s: delay every response
  Millis latency_max{0};      ///< latency=MIN-MAX: uniform random delay per reply
  bool hang = false;          ///< hang: read requests, never answer
  bool blackhole = false;     ///< blackhole: accept TCP, never speak (no TLS handshake)
  bool down = false;          ///< down: do not listen at all (connection refused)
  int http_status = 0;        ///< httpNNN: answer every request with that status
  int busy_retry_after = -1;  ///< busy[=SECS]: 503 with Retry-After
  bool unauth = false;        ///< unauth: every authenticated request gets 401
  bool garbage = false;       ///< garbage: 200 with malformed JSON
  bool reset = false;         ///< reset: reset the TCP connection instead of answering
  Millis trickle{0};          ///< trickle[=INTERVAL]: send the reply a few bytes at a time
  std::size_t trickle_chunk = 8;
  bool headers_hang = false;  ///< headers-hang: status line and headers, then nothing more
  bool truncate = false;      ///< truncate: headers and half the body, then the connection closes
  std::size_t huge = 0;       ///< huge[=BYTES]: the body padded to BYTES (default 8 MiB)
  bool reset_after = false;   ///< reset-after: the request is carried out, then RST, no reply
  bool tasks = false;         ///< tasks: Reset answers 202 with a task monitor
  bool stuck = false;         ///< stuck: power transitions never finish (PoweringOn forever)
  bool ignore_reset = false;  ///< ignore-reset: Reset answers success but does nothing
  bool nobasic = false;       ///< nobasic: Basic auth refused (sessions only)
  bool nosession = false;     ///< nosession: POST Sessions refused (Basic only)
  bool settings = false;      ///< settings: Boot only writable through @Redfish.Settings
  bool badlist = false;       ///< badlist: the published ResetType list is malformed (a string)
  bool strict_state = false;  ///< strict-state: On while On / Off while Off -> 400 (iLO style)
  Millis on_delay{-1};        ///< on-delay=DUR: this BMC's PoweringOn time (-1: --power-on-delay)
  Millis off_delay{-1};       ///< off-delay=DUR: this BMC's PoweringOff time
  std::string etag_mode = "exact";  ///< etag=exact|strong|none|required
  int session_limit = -1;           ///< session-limit=K: overrides --session-limit
  long times = -1;                  ///< times=K: error faults apply to the first K requests only
  std::string cert;                 ///< cert=expired|selfsigned|wrongname (at start only)

  bool error_faults() const {
    return hang || http_status || busy_retry_after >= 0 || unauth || garbage || reset ||
           trickle.count() > 0 || latency_max.count() > 0 || headers_hang || truncate || huge ||
           reset_after;
  }
  std::string describe() const;
};

/// Parse "3:hang,5:latency=2s,7-9:http500+times=2,*:tasks" into (first,last,faults) entries
/// (1-based inclusive BMC indexes; "*" = all).  Knob "none" clears.  Returns false with *err.
struct FaultRule {
  std::size_t first = 1, last = 0;  ///< last == 0: up to N
  Faults faults;
  bool clear = false;
};
bool parse_faults(std::string_view spec, std::vector<FaultRule>* out, std::string* err);

// ---------------------------------------------------------------------------------------------
// Power readings (sim_power.cpp): "SEL:VALUE" rules, defaults, resource bodies.

struct ValueRule {
  std::size_t first = 1, last = 0;  ///< 1-based inclusive; last == 0: up to N
  std::string value;
};
bool parse_value_rules(std::string_view spec, std::vector<ValueRule>* out, std::string* err);
bool parse_watts_value(const std::string& v, double* out);
/// Default draw while on of system `sys` of BMC `bmc0` (0-based): 180..420 W, deterministic.
double default_watts(std::size_t bmc0, std::size_t sys);
/// Draw while off (BMC and standby rail): on_watts / 40, rounded.
double standby_watts(double on_watts);
boost::json::object power_resource_json(const std::string& path, const std::optional<double>& w,
                                        double on_watts);
boost::json::object environment_metrics_json(const std::string& path, double w);

// ---------------------------------------------------------------------------------------------
// Certificates

struct CertSet;  // opaque, OpenSSL-backed
struct CertRequest {
  std::string ip;    ///< IP SAN
  std::string kind;  ///< "", "expired", "selfsigned", "wrongname"
};
/// Generates a CA and one server certificate per request.  Writes the CA PEM to ca_path.
std::shared_ptr<CertSet> make_certs(const std::vector<CertRequest>& reqs,
                                    const std::string& ca_path, std::string* err);
/// SHA-256 fingerprint "AA:BB:..." of server cert i.
std::string cert_fingerprint(const CertSet& c, std::size_t i);
/// Native X509* / EVP_PKEY* for cert i (void* to keep OpenSSL out of this header).
void* cert_x509(const CertSet& c, std::size_t i);
void* cert_key(const CertSet& c, std::size_t i);

// ---------------------------------------------------------------------------------------------
// Server

struct Config {
  std::size_t count = 0;
  std::string address_base = "127.20.0.1";
  unsigned port = 443;
  bool port_per_bmc = false;
  std::vector<std::string> mockups;  ///< dirs or builtin names; BMCs split in blocks
  std::vector<std::string> vendors;  ///< vendor personalities, BMC i gets vendors[i % n]
  std::string mockup_root;           ///< where the vendor trees are read from
  bool inventory_vendors = false;    ///< write `vendor: <plugin>` into the inventory groups
  bool http = false;
  std::string inventory_out, credentials_out, state_dir;
  std::string faults;
  Millis on_delay{2000}, off_delay{2000};
  std::string initial_power = "tree";  ///< tree|on|off
  int session_limit = 16;
  Millis session_timeout{600000};
  std::string host_prefix = "rf";
  std::string group_prefix;  ///< default: personality name
  std::string username = "admin";
  std::string password;  ///< from $FLEETPOWER_SIM_PASSWORD or random
  int max_conns_per_bmc = 64;
  int max_conns_total = 0;  ///< 0: derived from RLIMIT_NOFILE
  Millis idle_timeout{60000};
  Millis hang_timeout{600000};
  bool quiet = false;
  std::string watts;           ///< --watts SPEC: per-BMC draw while on
  std::string power_resource;  ///< --power-resource SPEC: power|env|both|none|null
};

/// Runs the simulator until SIGTERM/SIGINT.  Returns the process exit code.
int run_server(const Config& cfg);

}  // namespace fleetpower::sim

// SPDX-License-Identifier: GPL-3.0-or-later
#include "plugin/registry.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "core/duration.hpp"
#include "plugin/abi.h"

namespace fleetpower::plugin {

// ---- matching ----------------------------------------------------------------------------------

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  auto eq = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti])))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

bool any_glob(const std::vector<std::string>& pats, std::string_view text) {
  for (auto& p : pats)
    if (glob_match(p, text)) return true;
  return false;
}

}  // namespace

bool rule_matches(const MatchRule& r, const RedfishIdentity& id) {
  if (r.empty() || !r.ipmi_manufacturer.empty() || !r.ipmi_product.empty()) return false;
  if (!r.redfish_vendor.empty() && !any_glob(r.redfish_vendor, id.vendor)) return false;
  if (!r.redfish_product.empty() && !any_glob(r.redfish_product, id.product)) return false;
  if (!r.redfish_oem.empty()) {
    bool hit = false;
    for (auto& k : id.oem_keys) hit = hit || any_glob(r.redfish_oem, k);
    if (!hit) return false;
  }
  if (!r.manager_model.empty() && !any_glob(r.manager_model, id.manager_model)) return false;
  if (!r.manager_firmware.empty() && !any_glob(r.manager_firmware, id.manager_firmware)) return false;
  if (!r.manager_manufacturer.empty() && !any_glob(r.manager_manufacturer, id.manager_manufacturer)) return false;
  return true;
}

bool rule_matches(const MatchRule& r, const IpmiIdentity& id) {
  if (r.empty() || !r.ipmi_only()) return false;
  if (!r.ipmi_manufacturer.empty() &&
      std::find(r.ipmi_manufacturer.begin(), r.ipmi_manufacturer.end(), id.manufacturer) == r.ipmi_manufacturer.end())
    return false;
  if (!r.ipmi_product.empty()) {
    bool hit = false;
    for (auto& [lo, hi] : r.ipmi_product) hit = hit || (id.product >= lo && id.product <= hi);
    if (!hit) return false;
  }
  return true;
}

// ---- profile parsing ---------------------------------------------------------------------------

namespace {

const std::vector<std::string_view>& standard_reset_types() {
  static const std::vector<std::string_view> k = {
      "On",      "ForceOn",     "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi",
      "PushPowerButton", "PowerCycle", "FullPowerCycle", "Suspend", "Pause", "Resume"};
  return k;
}

const std::vector<std::string_view>& standard_boot_targets() {
  static const std::vector<std::string_view> k = {
      "None",       "Pxe",         "Floppy",     "Cd",      "Usb",          "Hdd",      "BiosSetup",
      "Utilities",  "Diags",       "UefiShell",  "UefiTarget", "SDCard",    "UefiHttp", "RemoteCd",
      "RemoteDrive", "UefiBootNext", "Recovery"};
  return k;
}

struct Loc {
  int line = 0, column = 0;
};
Loc loc_of(const YAML::Node& n) {
  auto m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

class Parser {
 public:
  Parser(std::string origin, const Registry* base, std::vector<Diagnostic>* diags)
      : origin_(std::move(origin)), base_(base), diags_(diags) {}

  bool run(const std::string& text, Plugin* out) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg);
      return false;
    } catch (const std::exception& e) {
      error({}, "", std::string("cannot parse: ") + e.what());
      return false;
    }
    if (!root.IsMap()) {
      error(loc_of(root), "", "a plugin profile must be a mapping (name, api_version, transports, ...)");
      return false;
    }
    Plugin p;
    bool have_name = false, have_api = false, have_transports = false;
    // `extends` first: it provides the defaults the rest overrides.
    if (auto ext = root["extends"]; ext) {
      if (!ext.IsScalar()) {
        error(loc_of(ext), "extends", "expected the name of a plugin");
      } else if (!base_ || !base_->find(ext.Scalar())) {
        error(loc_of(ext), "extends", fmt::format("no plugin named '{}' is loaded before this one", ext.Scalar()));
      } else {
        const Plugin* b = base_->find(ext.Scalar());
        p.profile = b->profile;
        p.desc.transports = b->desc.transports;
      }
    }
    static const std::vector<std::string> kTop = {"name", "version", "api_version", "description", "extends",
                                                  "transports", "priority", "match", "redfish", "ipmi"};
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string k = it->first.Scalar();
      const Loc kl = loc_of(it->first);
      const YAML::Node v = it->second;
      if (k == "name") {
        if (auto s = scalar(v, k)) {
          if (!valid_name(*s))
            error(loc_of(v), k, fmt::format("'{}' is not a plugin name (lower-case letters, digits, '-', '_'; at most 64)", *s));
          p.desc.name = *s;
          have_name = true;
        }
      } else if (k == "version") {
        if (auto s = scalar(v, k)) p.desc.version = *s;
      } else if (k == "description") {
        if (auto s = scalar(v, k)) p.desc.description = *s;
      } else if (k == "extends") {
        // handled above
      } else if (k == "api_version") {
        if (auto n = integer(v, k, 0, 1000000)) {
          have_api = true;
          p.desc.api_version = static_cast<int>(*n);
          if (*n != kApiVersion)
            error(loc_of(v), k,
                  fmt::format("written for plugin API version {}; this fleetpower speaks version {}", *n, kApiVersion));
        }
      } else if (k == "transports") {
        p.desc.transports.clear();
        for (auto& [s, l] : strings(v, k)) {
          auto t = parse_transport(s);
          if (!t) error(l, k, fmt::format("'{}' is not a transport (ipmi, redfish, ssh)", s));
          else if (!p.desc.applies_to(*t)) p.desc.transports.push_back(*t);
        }
        have_transports = true;
      } else if (k == "priority") {
        if (auto n = integer(v, k, -1000, 1000)) p.desc.priority = static_cast<int>(*n);
      } else if (k == "match") {
        read_match(v, &p.desc);
      } else if (k == "redfish") {
        read_redfish(v, &p.profile.redfish);
      } else if (k == "ipmi") {
        read_ipmi(v, &p.profile.ipmi);
      } else {
        unknown(kl, "", k, kTop);
      }
    }
    if (!have_name) error(loc_of(root), "name", "missing: every plugin needs a name");
    if (!have_api) error(loc_of(root), "api_version", fmt::format("missing: say 'api_version: {}'", kApiVersion));
    if (!have_transports && p.desc.transports.empty())
      error(loc_of(root), "transports", "missing: list the transports the plugin applies to (ipmi, redfish, ssh)");
    // Rules must fit the transports.
    for (auto& r : p.desc.match) {
      if (!r.ipmi_only() && !p.desc.applies_to(Transport::Redfish) && r.redfish_only())
        error(loc_of(root), "match", "a Redfish match rule in a plugin that does not list the redfish transport");
      if (r.ipmi_only() && !p.desc.applies_to(Transport::Ipmi))
        error(loc_of(root), "match", "an IPMI match rule in a plugin that does not list the ipmi transport");
    }
    if (errors_) return false;
    *out = std::move(p);
    return true;
  }

 private:
  void error(Loc l, const std::string& key, std::string msg) {
    diags_->push_back({origin_, l.line, l.column, key, std::move(msg), false});
    ++errors_;
  }
  void unknown(Loc l, const std::string& path, const std::string& k, const std::vector<std::string>& pool) {
    auto dym = did_you_mean(k, pool, 1);
    error(l, path.empty() ? k : path + "." + k,
          fmt::format("unknown key '{}'{}", k, dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])));
  }
  static bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    if (!std::islower(static_cast<unsigned char>(s[0])) && !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s)
      if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '-' &&
          c != '_')
        return false;
    return true;
  }
  std::optional<std::string> scalar(const YAML::Node& v, const std::string& path) {
    if (!v.IsScalar()) {
      error(loc_of(v), path, "expected a single value");
      return std::nullopt;
    }
    return v.Scalar();
  }
  std::optional<long long> integer(const YAML::Node& v, const std::string& path, long long lo, long long hi) {
    auto s = scalar(v, path);
    if (!s) return std::nullopt;
    char* end = nullptr;
    long long n = std::strtoll(s->c_str(), &end, 0);
    if (s->empty() || *end || n < lo || n > hi) {
      error(loc_of(v), path, fmt::format("'{}' is not a whole number ({} to {})", *s, lo, hi));
      return std::nullopt;
    }
    return n;
  }
  std::optional<bool> boolean(const YAML::Node& v, const std::string& path) {
    auto s = scalar(v, path);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes") return true;
    if (*s == "false" || *s == "no") return false;
    error(loc_of(v), path, fmt::format("'{}' is not true or false", *s));
    return std::nullopt;
  }
  std::optional<Millis> duration(const YAML::Node& v, const std::string& path) {
    auto s = scalar(v, path);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d || d->count() <= 0 || d->count() > 600000) {
      error(loc_of(v), path, fmt::format("'{}' is not a duration between 1ms and 10m (like 500ms, 2s)", *s));
      return std::nullopt;
    }
    return d;
  }
  // A scalar or a list of scalars, with positions.
  std::vector<std::pair<std::string, Loc>> strings(const YAML::Node& v, const std::string& path) {
    std::vector<std::pair<std::string, Loc>> out;
    if (v.IsScalar()) {
      out.emplace_back(v.Scalar(), loc_of(v));
    } else if (v.IsSequence()) {
      for (const auto& e : v) {
        if (!e.IsScalar()) error(loc_of(e), path, "expected a list of single values");
        else out.emplace_back(e.Scalar(), loc_of(e));
      }
    } else if (!v.IsNull()) {
      error(loc_of(v), path, "expected a value or a list of values");
    }
    return out;
  }
  template <class E>
  std::optional<E> choice(const YAML::Node& v, const std::string& path,
                          std::initializer_list<std::pair<std::string_view, E>> opts) {
    auto s = scalar(v, path);
    if (!s) return std::nullopt;
    std::string names;
    for (auto& [n, e] : opts) {
      if (*s == n) return e;
      names += names.empty() ? std::string(n) : ", " + std::string(n);
    }
    error(loc_of(v), path, fmt::format("'{}' is not one of: {}", *s, names));
    return std::nullopt;
  }
  bool map_or_error(const YAML::Node& v, const std::string& path) {
    if (v.IsMap()) return true;
    if (!v.IsNull()) error(loc_of(v), path, "expected a mapping of keys");
    return false;
  }

  void read_match(const YAML::Node& v, Descriptor* d) {
    if (!v.IsSequence()) {
      if (!v.IsNull()) error(loc_of(v), "match", "expected a list of rules (each a mapping; every key of a rule must match)");
      return;
    }
    static const std::vector<std::string> kKeys = {"redfish_vendor", "redfish_oem", "redfish_product",
                                                   "manager_model", "manager_firmware", "manager_manufacturer",
                                                   "ipmi_manufacturer", "ipmi_product"};
    int idx = 0;
    for (const auto& rn : v) {
      const std::string path = fmt::format("match[{}]", idx++);
      if (!rn.IsMap()) {
        error(loc_of(rn), path, "expected a mapping such as {redfish_vendor: \"Dell*\"}");
        continue;
      }
      MatchRule r;
      for (auto it = rn.begin(); it != rn.end(); ++it) {
        const std::string k = it->first.Scalar();
        const std::string kp = path + "." + k;
        std::vector<std::string>* globs = nullptr;
        if (k == "redfish_vendor") globs = &r.redfish_vendor;
        else if (k == "redfish_oem") globs = &r.redfish_oem;
        else if (k == "redfish_product") globs = &r.redfish_product;
        else if (k == "manager_model") globs = &r.manager_model;
        else if (k == "manager_firmware") globs = &r.manager_firmware;
        else if (k == "manager_manufacturer") globs = &r.manager_manufacturer;
        if (globs) {
          for (auto& [s, l] : strings(it->second, kp)) {
            if (s.empty()) error(l, kp, "empty pattern");
            else globs->push_back(s);
          }
        } else if (k == "ipmi_manufacturer") {
          for (auto& [s, l] : strings(it->second, kp)) {
            char* end = nullptr;
            unsigned long n = std::strtoul(s.c_str(), &end, 0);
            if (s.empty() || *end || n > 0xFFFFFF)
              error(l, kp, fmt::format("'{}' is not an IANA enterprise number (0 to 16777215)", s));
            else r.ipmi_manufacturer.push_back(static_cast<std::uint32_t>(n));
          }
        } else if (k == "ipmi_product") {
          for (auto& [s, l] : strings(it->second, kp)) {
            auto dash = s.find('-', 1);
            std::string a = s.substr(0, dash), b = dash == std::string::npos ? a : s.substr(dash + 1);
            char *e1 = nullptr, *e2 = nullptr;
            unsigned long lo = std::strtoul(a.c_str(), &e1, 0), hi = std::strtoul(b.c_str(), &e2, 0);
            if (a.empty() || b.empty() || *e1 || *e2 || lo > 0xFFFF || hi > 0xFFFF || lo > hi)
              error(l, kp, fmt::format("'{}' is not a product id or range (like 0x1234 or 0x100-0x1ff)", s));
            else r.ipmi_product.emplace_back(static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(hi));
          }
        } else {
          unknown(loc_of(it->first), path, k, kKeys);
        }
      }
      if (!r.empty() && !r.redfish_only() && !r.ipmi_only())
        error(loc_of(rn), path, "a rule mixes Redfish and IPMI keys: write one rule per transport");
      else if (r.ipmi_only() && r.ipmi_manufacturer.empty())
        error(loc_of(rn), path, "an IPMI rule needs ipmi_manufacturer (product ids are per manufacturer)");
      else if (!r.empty())
        d->match.push_back(std::move(r));
    }
  }

  void read_reset_list(const YAML::Node& v, const std::string& path, const std::set<std::string>& extra,
                       std::vector<std::string>* out) {
    out->clear();
    for (auto& [s, l] : strings(v, path)) {
      const auto& std_types = standard_reset_types();
      if (std::find(std_types.begin(), std_types.end(), s) == std_types.end() && !extra.count(s)) {
        std::vector<std::string> pool(std_types.begin(), std_types.end());
        auto dym = did_you_mean(s, pool, 1);
        error(l, path,
              fmt::format("'{}' is not a Redfish ResetType{}; list non-standard values in redfish.extra_reset_types", s,
                          dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])));
      } else {
        out->push_back(s);
      }
    }
  }

  void read_redfish(const YAML::Node& v, RedfishProfile* rf) {
    if (!map_or_error(v, "redfish")) return;
    static const std::vector<std::string> kKeys = {
        "system_path",           "manager_path",       "reset",          "avoid_reset_types", "extra_reset_types",
        "cycle",                 "graceful_restart",   "poll_interval",  "task_poll_interval",
        "ignore_allowed_values", "success_in_error_envelope", "boot"};
    std::set<std::string> extra;
    if (auto x = v["extra_reset_types"]; x) {
      for (auto& [s, l] : strings(x, "redfish.extra_reset_types")) {
        if (s.empty() || s.size() > 64) error(l, "redfish.extra_reset_types", "expected a ResetType name");
        else extra.insert(s);
      }
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string k = it->first.Scalar();
      const std::string kp = "redfish." + k;
      const YAML::Node n = it->second;
      if (k == "system_path" || k == "manager_path") {
        if (auto s = scalar(n, kp)) {
          if (!s->empty() && (*s)[0] != '/') error(loc_of(n), kp, fmt::format("'{}' is not an absolute path (/redfish/v1/...)", *s));
          else (k == "system_path" ? rf->system_path : rf->manager_path) = *s;
        }
      } else if (k == "reset") {
        if (!map_or_error(n, kp)) continue;
        for (auto a = n.begin(); a != n.end(); ++a) {
          const std::string an = a->first.Scalar();
          auto act = parse_action(an);
          if (!act || (*act != Action::On && *act != Action::Off && *act != Action::Soft && *act != Action::Reset &&
                       *act != Action::Nmi && *act != Action::Cycle)) {
            unknown(loc_of(a->first), kp, an, {"on", "off", "soft", "reset", "nmi", "cycle"});
            continue;
          }
          read_reset_list(a->second, kp + "." + an, extra, &rf->reset[*act]);
          if (rf->reset[*act].empty()) error(loc_of(a->second), kp + "." + an, "an empty preference list");
        }
      } else if (k == "avoid_reset_types") {
        read_reset_list(n, kp, extra, &rf->avoid_reset_types);
      } else if (k == "extra_reset_types") {
        // read above
      } else if (k == "cycle") {
        if (auto c = choice<CycleMode>(n, kp, {{"auto", CycleMode::Auto},
                                               {"power-cycle", CycleMode::PowerCycle},
                                               {"off-wait-on", CycleMode::OffWaitOn}}))
          rf->cycle = *c;
      } else if (k == "graceful_restart") {
        if (auto c = choice<GracefulRestartMode>(n, kp, {{"native", GracefulRestartMode::Native},
                                                         {"shutdown-wait-on", GracefulRestartMode::ShutdownWaitOn},
                                                         {"unsupported", GracefulRestartMode::Unsupported}}))
          rf->graceful_restart = *c;
      } else if (k == "poll_interval") {
        if (auto d = duration(n, kp)) rf->poll_interval = d;
      } else if (k == "task_poll_interval") {
        if (auto d = duration(n, kp)) rf->task_poll_interval = d;
      } else if (k == "ignore_allowed_values") {
        if (auto b = boolean(n, kp)) rf->ignore_allowed_values = *b;
      } else if (k == "success_in_error_envelope") {
        if (auto b = boolean(n, kp)) rf->success_in_error_envelope = *b;
      } else if (k == "boot") {
        read_boot(n, &rf->boot);
      } else {
        unknown(loc_of(it->first), "redfish", k, kKeys);
      }
    }
  }

  void read_boot(const YAML::Node& v, RedfishProfile::Boot* b) {
    if (!map_or_error(v, "redfish.boot")) return;
    static const std::vector<std::string> kKeys = {"supported", "echo_mode", "settings", "continuous", "avoid_targets"};
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string k = it->first.Scalar();
      const std::string kp = "redfish.boot." + k;
      const YAML::Node n = it->second;
      if (k == "supported") {
        if (auto x = boolean(n, kp)) b->supported = *x;
      } else if (k == "echo_mode") {
        if (auto x = boolean(n, kp)) b->echo_mode = *x;
      } else if (k == "continuous") {
        if (auto x = boolean(n, kp)) b->continuous = *x;
      } else if (k == "settings") {
        if (auto c = choice<SettingsMode>(n, kp, {{"auto", SettingsMode::Auto},
                                                  {"always", SettingsMode::Always},
                                                  {"never", SettingsMode::Never}}))
          b->settings = *c;
      } else if (k == "avoid_targets") {
        b->avoid_targets.clear();
        for (auto& [s, l] : strings(n, kp)) {
          const auto& k2 = standard_boot_targets();
          if (std::find(k2.begin(), k2.end(), s) == k2.end())
            error(l, kp, fmt::format("'{}' is not a BootSourceOverrideTarget value (Pxe, Hdd, Cd, BiosSetup, ...)", s));
          else b->avoid_targets.push_back(s);
        }
      } else {
        unknown(loc_of(it->first), "redfish.boot", k, kKeys);
      }
    }
  }

  void read_ipmi(const YAML::Node& v, IpmiProfile* ip) {
    if (!map_or_error(v, "ipmi")) return;
    static const std::vector<std::string> kKeys = {"workarounds", "cipher_suite", "privilege", "poll_interval"};
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string k = it->first.Scalar();
      const std::string kp = "ipmi." + k;
      const YAML::Node n = it->second;
      if (k == "workarounds") {
        ip->workarounds.clear();
        for (auto& [s, l] : strings(n, kp)) {
          const auto& kw = known_ipmi_workarounds();
          if (std::find(kw.begin(), kw.end(), s) == kw.end()) {
            std::vector<std::string> pool(kw.begin(), kw.end());
            auto dym = did_you_mean(s, pool, 1);
            error(l, kp, fmt::format("unknown IPMI workaround '{}'{}", s,
                                     dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])));
          } else if (!ip->has(s)) {
            ip->workarounds.push_back(s);
          }
        }
      } else if (k == "cipher_suite") {
        static const std::set<long long> ok{0, 1, 2, 3, 6, 7, 8, 11, 12, 15, 16, 17};
        if (auto c = integer(n, kp, 0, 255)) {
          if (!ok.count(*c)) error(loc_of(n), kp, fmt::format("'{}' is not an IPMI cipher suite (3, 17, ...)", *c));
          else ip->cipher_suite = static_cast<int>(*c);
        }
      } else if (k == "privilege") {
        if (auto s = scalar(n, kp)) {
          if (*s != "user" && *s != "operator" && *s != "admin")
            error(loc_of(n), kp, fmt::format("'{}' is not a privilege level (user, operator, admin)", *s));
          else ip->privilege = *s;
        }
      } else if (k == "poll_interval") {
        if (auto d = duration(n, kp)) ip->poll_interval = d;
      } else {
        unknown(loc_of(it->first), "ipmi", k, kKeys);
      }
    }
  }

  std::string origin_;
  const Registry* base_;
  std::vector<Diagnostic>* diags_;
  int errors_ = 0;
};

bool read_text_file(const std::string& path, std::string* out, std::string* err) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *err = "cannot read the file";
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().size() > (1u << 20)) {
    *err = "larger than 1 MiB: not a profile";
    return false;
  }
  *out = ss.str();
  return true;
}

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

}  // namespace

bool parse_profile(const std::string& text, const std::string& origin, const Registry* base, Plugin* out,
                   std::vector<Diagnostic>* diags) {
  Parser p(origin, base, diags);
  return p.run(text, out);
}

// ---- registry ----------------------------------------------------------------------------------

void Registry::add(Plugin p) {
  for (std::size_t i = 0; i < plugins_.size(); ++i) {
    auto& e = plugins_[i];
    if (e->desc.name == p.desc.name) {
      p.overrides = e->origin;
      *e = std::move(p);
      deferred_[i] = nullptr;  // a deferred built-in replaced before it was ever parsed
      return;
    }
  }
  plugins_.push_back(std::make_unique<Plugin>(std::move(p)));
  deferred_.push_back(nullptr);
}

const Plugin* Registry::find(std::string_view name) const {
  for (std::size_t i = 0; i < plugins_.size(); ++i) {
    if (plugins_[i]->desc.name != name) continue;
    if (deferred_[i] && !parse_deferred_at(i)) return nullptr;
    return plugins_[i].get();
  }
  return nullptr;
}

namespace {

/// A built-in profile parsed into a plugin (its name must be its folder's).
bool parse_builtin(const BuiltinEntry& b, const Registry* base, Plugin* out, std::vector<Diagnostic>* diags) {
  std::string origin = fmt::format("plugins/{}/profile.yaml (built-in)", b.name);
  if (!parse_profile(b.profile, origin, base, out, diags)) return false;
  if (out->desc.name != b.name) {
    diags->push_back({origin, 0, 0, "name",
                      fmt::format("'{}' differs from the folder name '{}'", out->desc.name, b.name), false});
    return false;
  }
  out->source = Source::BuiltIn;
  out->origin = "built-in";
  if (b.make_hooks) out->hooks = b.make_hooks();
  return true;
}

}  // namespace

bool Registry::parse_deferred_at(std::size_t i) const {
  Plugin* slot = plugins_[i].get();
  const BuiltinEntry* b = deferred_[i];
  deferred_[i] = nullptr;  // before parsing: an `extends` that comes back here finds no loop
  Plugin p;
  std::vector<Diagnostic> diags;
  if (parse_builtin(*b, this, &p, &diags)) {
    *slot = std::move(p);
    return true;
  }
  for (auto& d : diags) std::cerr << d.str() << "\n";
  // Dropped.  Found again by address: parsing its `extends` may have dropped another entry.
  for (std::size_t k = 0; k < plugins_.size(); ++k) {
    if (plugins_[k].get() != slot) continue;
    plugins_.erase(plugins_.begin() + static_cast<std::ptrdiff_t>(k));
    deferred_.erase(deferred_.begin() + static_cast<std::ptrdiff_t>(k));
    break;
  }
  return false;
}

void Registry::parse_deferred() const {
  for (;;) {
    auto it = std::find_if(deferred_.begin(), deferred_.end(), [](const BuiltinEntry* e) { return e != nullptr; });
    if (it == deferred_.end()) break;
    parse_deferred_at(static_cast<std::size_t>(it - deferred_.begin()));
  }
}

bool Registry::load_builtin(std::vector<Diagnostic>* diags, bool deferred) {
  bool ok = true;
  for (const auto& b : builtin_table()) {
    if (deferred) {
      Plugin placeholder;
      placeholder.desc.name = b.name;
      placeholder.source = Source::BuiltIn;
      placeholder.origin = "built-in";
      add(std::move(placeholder));
      deferred_.back() = &b;
      continue;
    }
    Plugin p;
    if (!parse_builtin(b, this, &p, diags)) {
      ok = false;
      continue;
    }
    add(std::move(p));
  }
  return ok;
}

bool Registry::load_profile_file(const std::string& path, std::vector<Diagnostic>* diags) {
  std::string text, err;
  if (!read_text_file(path, &text, &err)) {
    diags->push_back({path, 0, 0, "", err, false});
    return false;
  }
  Plugin p;
  if (!parse_profile(text, path, this, &p, diags)) return false;
  p.source = Source::Profile;
  p.origin = path;
  add(std::move(p));
  return true;
}

bool Registry::load_shared_object(const std::string& path, std::vector<Diagnostic>* diags) {
  auto refuse = [&](std::string msg) {
    diags->push_back({path, 0, 0, "", std::move(msg), false});
    return false;
  };
  // A relative name without '/' would make dlopen search the library path: never do that.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    return refuse(fmt::format("cannot load the shared object: {}", e ? e : "unknown error"));
  }
  auto entry = reinterpret_cast<fleetpower_plugin_entry_fn>(::dlsym(h, FLEETPOWER_PLUGIN_ENTRY));
  if (!entry) {
    ::dlclose(h);
    return refuse(fmt::format("not a fleetpower plugin: no '{}' symbol", FLEETPOWER_PLUGIN_ENTRY));
  }
  const fleetpower_plugin_v1* d = entry();
  if (!d) {
    ::dlclose(h);
    return refuse(fmt::format("{}() returned no descriptor", FLEETPOWER_PLUGIN_ENTRY));
  }
  if (d->api_version != static_cast<std::uint32_t>(kApiVersion)) {
    std::uint32_t v = d->api_version;
    ::dlclose(h);
    return refuse(fmt::format("refused: built for plugin API version {}, this fleetpower speaks version {}", v,
                              kApiVersion));
  }
  if (d->struct_size < sizeof(fleetpower_plugin_v1) || !d->profile_yaml) {
    ::dlclose(h);
    return refuse("refused: incomplete descriptor (struct_size too small or no profile_yaml)");
  }
  Plugin p;
  if (!parse_profile(d->profile_yaml, path + " (embedded profile)", this, &p, diags)) {
    ::dlclose(h);
    return false;
  }
  if ((d->create_hooks == nullptr) != (d->destroy_hooks == nullptr)) {
    ::dlclose(h);
    return refuse("refused: create_hooks and destroy_hooks must be given together");
  }
  if (d->create_hooks) {
    void* raw = d->create_hooks();
    if (!raw) {
      ::dlclose(h);
      return refuse("refused: create_hooks() returned nothing");
    }
    auto destroy = d->destroy_hooks;
    p.hooks = std::shared_ptr<Hooks>(static_cast<Hooks*>(raw), [destroy, raw](Hooks*) { destroy(raw); });
  }
  p.source = Source::SharedObject;
  p.origin = path;
  handles_.push_back(h);  // kept loaded: hooks and strings live in it
  add(std::move(p));
  return true;
}

bool Registry::load_dir(const std::string& dir, bool must_exist, std::vector<Diagnostic>* diags) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (!must_exist) return true;
    diags->push_back({dir, 0, 0, "", "cannot open the plugin directory", false});
    return false;
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || n[0] == '.') continue;
    names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  bool ok = true;
  std::string base = dir;
  if (!base.empty() && base.back() != '/') base += '/';
  for (auto& n : names) {
    std::string path = base + n;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      std::string prof = path + "/profile.yaml";
      if (::stat(prof.c_str(), &st) == 0) ok = load_profile_file(prof, diags) && ok;
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (ends_with(n, ".yaml") || ends_with(n, ".yml")) ok = load_profile_file(path, diags) && ok;
    else if (ends_with(n, ".so")) ok = load_shared_object(path, diags) && ok;
  }
  return ok;
}

const Plugin* Registry::select(std::string_view vendor, Transport t, std::string* err) const {
  if (vendor.empty() || vendor == "auto") return nullptr;
  const Plugin* p = find(vendor);
  if (!p) {
    std::vector<std::string> pool;
    for (auto& e : plugins_) pool.push_back(e->desc.name);
    auto dym = did_you_mean(vendor, pool, 2);
    // A short vendor name ("dell", "hpe") suggests the plugins it begins: dell-idrac, hpe-ilo...
    for (auto& n : pool)
      if (n.size() > vendor.size() && n.compare(0, vendor.size(), vendor) == 0 && n[vendor.size()] == '-' &&
          std::find(dym.begin(), dym.end(), n) == dym.end())
        dym.push_back(n);
    *err = fmt::format("no vendor plugin named '{}'{}; 'fleetpower plugins' lists them", vendor,
                       dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", fmt::join(dym, "' or '")));
    return nullptr;
  }
  if (!p->desc.applies_to(t)) {
    *err = fmt::format("vendor plugin '{}' does not apply to {}", vendor, transport_name(t));
    return nullptr;
  }
  return p;
}

namespace {
template <class Id>
const Plugin* best_match(const std::vector<std::unique_ptr<Plugin>>& plugins, Transport t, const Id& id) {
  const Plugin* best = nullptr;
  int best_prio = 0, best_fields = 0;
  for (auto& p : plugins) {
    if (!p->desc.applies_to(t)) continue;
    for (auto& r : p->desc.match) {
      if (!rule_matches(r, id)) continue;
      int prio = p->desc.priority, fields = r.fields();
      if (!best || prio > best_prio || (prio == best_prio && fields > best_fields) ||
          (prio == best_prio && fields == best_fields && p->desc.name < best->desc.name)) {
        best = p.get();
        best_prio = prio;
        best_fields = fields;
      }
    }
  }
  return best;
}
}  // namespace

const Plugin* Registry::detect(const RedfishIdentity& id) const {
  parse_deferred();
  if (auto* p = best_match(plugins_, Transport::Redfish, id)) return p;
  return fallback(Transport::Redfish);
}

const Plugin* Registry::detect(const IpmiIdentity& id) const {
  parse_deferred();
  if (auto* p = best_match(plugins_, Transport::Ipmi, id)) return p;
  return fallback(Transport::Ipmi);
}

bool Registry::redfish_needs_manager(const RedfishIdentity& id) const {
  parse_deferred();
  for (auto& p : plugins_) {
    if (!p->desc.applies_to(Transport::Redfish)) continue;
    for (auto& r : p->desc.match) {
      if (r.manager_model.empty() && r.manager_firmware.empty() && r.manager_manufacturer.empty()) continue;
      if (!r.redfish_only()) continue;
      MatchRule root_part = r;
      root_part.manager_model.clear();
      root_part.manager_firmware.clear();
      root_part.manager_manufacturer.clear();
      if (root_part.empty() || rule_matches(root_part, id)) return true;
    }
  }
  return false;
}

const Plugin* Registry::fallback(Transport t) const {
  auto* p = find(fmt::format("generic-{}", transport_name(t)));
  return p && p->desc.applies_to(t) ? p : nullptr;
}

}  // namespace fleetpower::plugin

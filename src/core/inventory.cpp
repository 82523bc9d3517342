// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/inventory.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "core/duration.hpp"
#include "core/hostlist.hpp"

namespace fleetpower {

std::string Diagnostic::str() const {
  std::string s = file;
  if (line > 0) s += fmt::format(":{}", line);
  if (line > 0 && column > 0) s += fmt::format(":{}", column);
  s += ": ";
  if (warning) s += "warning: ";
  if (!key.empty()) s += key + ": ";
  s += message;
  return s;
}

const Target* Inventory::find(std::string_view name) const {
  auto it = by_name.find(std::string(name));
  return it == by_name.end() ? nullptr : &targets[it->second];
}

namespace {

const std::vector<std::string_view> kTargetKeys = {
    // addressing and protocol
    "bmc", "protocol", "vendor", "port", "credentials",
    // IPMI
    "cipher_suite", "privilege",
    // Redfish
    "system", "auth", "ca_file", "tls_fingerprint", "insecure", "scheme",
    // SSH devices and outlets
    "ssh_profile", "known_hosts", "pdu", "outlet", "outlets", "host_key_policy", "identity_file", "cycle_delay",
    // power metadata
    "circuit", "phase", "feed", "watts", "start_watts",
    // timing
    "timeout",
    // the test backend's scripted behaviour
    "test_state", "test_delay", "test_fail", "test_hang", "test_transition", "test_watts"};

bool is_custom_key(std::string_view k) { return k.size() > 2 && (k.substr(0, 2) == "x_" || k.substr(0, 2) == "x-"); }

constexpr std::string_view kSecretKeys[] = {"password", "passwd", "pass", "secret", "kg", "kg_key",
                                            "username", "user", "password_env", "password_file",
                                            "password_command"};

struct Loc {
  int line = 0;
  int column = 0;
};
Loc loc_of(const YAML::Node& n) {
  auto m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

// A value with where it came from.
struct Value {
  std::string text;
  Loc loc;
  std::string key_path;
};
using KeyMap = std::map<std::string, Value>;

struct GroupDef {
  std::string name;
  Loc loc;
  std::vector<std::string> hosts;  // defined here
  Value hosts_expr;
  std::vector<std::string> members;  // referenced (defined elsewhere)
  Value members_expr;
  std::vector<std::string> children;
  std::vector<Loc> child_locs;
  KeyMap keys;  // direct keys and vars
};

class Loader {
 public:
  Loader(std::string file, Inventory* inv, std::vector<Diagnostic>* diags)
      : file_(std::move(file)), inv_(inv), diags_(diags) {}

  bool run(const std::string& text) {
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
    if (root.IsNull()) {
      error({1, 1}, "", "the inventory is empty");
      return false;
    }
    if (!root.IsMap()) {
      error(loc_of(root), "", "the inventory must be a mapping with 'defaults', 'groups', 'hosts', 'power'");
      return false;
    }
    if (root["include"]) return run_overlay(root);
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string k = it->first.Scalar();
      if (k == "defaults") {
        read_keys(it->second, "defaults", &defaults_);
      } else if (k == "groups") {
        read_groups(it->second);
      } else if (k == "hosts") {
        read_hosts(it->second);
      } else if (k == "power") {
        read_power(it->second);
      } else {
        unknown_key(loc_of(it->first), "", k, {"defaults", "groups", "hosts", "power"});
      }
    }
    build();
    return errors_ == 0;
  }

 private:
  // An overlay: `include: BASE` (relative to this file) loads BASE, then this file's `hosts:`
  // entries set keys on hosts BASE defines (they win).  Written by 'probe --write-inventory'.
  bool run_overlay(const YAML::Node& root) {
    static thread_local int depth = 0;
    const YAML::Node inc = root["include"];
    if (!inc.IsScalar() || inc.Scalar().empty()) {
      error(loc_of(inc), "include", "expected the path of the inventory this file overlays");
      return false;
    }
    if (depth >= 8) {
      error(loc_of(inc), "include", "includes nested more than 8 deep (a loop?)");
      return false;
    }
    std::string base = inc.Scalar();
    if (base[0] != '/') {
      auto slash = file_.rfind('/');
      if (slash != std::string::npos) base = file_.substr(0, slash + 1) + base;
    }
    ++depth;
    bool ok = load_inventory(base, inv_, diags_);
    --depth;
    inv_->path = file_;
    if (!ok) {
      error(loc_of(inc), "include", fmt::format("the included inventory {} has errors", base));
      return false;
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string k = it->first.Scalar();
      if (k == "include") continue;
      if (k != "hosts") {
        error(loc_of(it->first), k, "a file with 'include' is an overlay: only 'hosts' may follow");
        continue;
      }
      const YAML::Node hosts = it->second;
      if (!hosts.IsMap()) {
        error(loc_of(hosts), "hosts", "expected a mapping of host names (or hostlists) to keys");
        continue;
      }
      for (auto h = hosts.begin(); h != hosts.end(); ++h) {
        std::string expr = h->first.Scalar();
        Value v{expr, loc_of(h->first), "hosts." + expr};
        std::vector<std::string> names;
        if (!expand_list(v, &names)) continue;
        KeyMap keys;
        read_keys(h->second, "hosts." + expr, &keys);
        for (auto& name : names) {
          auto ti = inv_->by_name.find(name);
          if (ti == inv_->by_name.end()) {
            error(v.loc, v.key_path, fmt::format("{} is not a host of {}", name, base));
            continue;
          }
          Target& t = inv_->targets[ti->second];
          for (auto& [key, val] : keys) {
            if (key == "bmc") t.bmc = val.text;
            else if (key == "protocol") t.protocol = val.text;
            else if (key == "vendor") t.vendor = val.text;
            else if (key == "credentials") t.credentials = val.text;
            else if (key == "port") t.port = static_cast<std::uint16_t>(std::strtol(val.text.c_str(), nullptr, 10));
            else t.vars[key] = val.text;
          }
        }
      }
    }
    return errors_ == 0;
  }

  void error(Loc l, std::string key, std::string msg) {
    diags_->push_back({file_, l.line, l.column, std::move(key), std::move(msg), false});
    ++errors_;
  }
  void warn(Loc l, std::string key, std::string msg) {
    diags_->push_back({file_, l.line, l.column, std::move(key), std::move(msg), true});
  }
  void unknown_key(Loc l, const std::string& path, const std::string& k,
                   const std::vector<std::string>& pool) {
    std::string msg = fmt::format("unknown key '{}'", k);
    auto dym = did_you_mean(k, pool, 1);
    if (!dym.empty()) msg += fmt::format(" (did you mean '{}'?)", dym[0]);
    error(l, path.empty() ? k : path + "." + k, msg);
  }

  std::vector<std::string> target_key_pool() const {
    std::vector<std::string> pool;
    for (auto k : kTargetKeys) pool.emplace_back(k);
    return pool;
  }

  // Scalar or flow sequence of scalars -> string (sequences joined with ',').
  std::optional<std::string> scalar_text(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar()) return n.Scalar();
    if (n.IsSequence()) {
      std::string s;
      for (const auto& e : n) {
        if (!e.IsScalar()) {
          error(loc_of(e), path, "expected a list of strings");
          return std::nullopt;
        }
        if (!s.empty()) s += ',';
        s += e.Scalar();
      }
      return s;
    }
    if (n.IsNull()) return std::string();
    error(loc_of(n), path, "expected a string");
    return std::nullopt;
  }

  bool check_value(const std::string& key, const std::string& v, Loc l, const std::string& path) {
    auto bad = [&](const std::string& why) {
      error(l, path, why);
      return false;
    };
    if (v.find("{") != std::string::npos) return true;  // template, checked after expansion
    if (key == "protocol") {
      static const std::set<std::string> ok{"ipmi", "redfish", "ssh", "auto", "test"};
      if (!ok.count(v)) return bad(fmt::format("'{}' is not a protocol (ipmi, redfish, ssh, auto, test)", v));
    } else if (key == "port") {
      char* end = nullptr;
      long p = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || p < 1 || p > 65535) return bad(fmt::format("'{}' is not a port number (1-65535)", v));
    } else if (key == "watts" || key == "start_watts") {
      char* end = nullptr;
      double w = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || w < 0 || w > 1e6) return bad(fmt::format("'{}' is not a wattage (a number >= 0)", v));
    } else if (key == "cipher_suite") {
      static const std::set<std::string> ok{"auto", "0", "1", "2", "3", "6", "7", "8", "11", "12", "15", "16", "17"};
      if (!ok.count(v)) return bad(fmt::format("'{}' is not an IPMI cipher suite (auto, 3, 17, ...)", v));
    } else if (key == "privilege") {
      static const std::set<std::string> ok{"user", "operator", "admin"};
      if (!ok.count(v)) return bad(fmt::format("'{}' is not a privilege level (user, operator, admin)", v));
    } else if (key == "auth") {
      static const std::set<std::string> ok{"session", "basic", "auto"};
      if (!ok.count(v)) return bad(fmt::format("'{}' is not an auth mode (session, basic, auto)", v));
    } else if (key == "scheme") {
      if (v != "https" && v != "http") return bad(fmt::format("'{}' is not a scheme (https, http)", v));
    } else if (key == "insecure" || key == "test_hang") {
      static const std::set<std::string> ok{"true", "false", "yes", "no"};
      if (!ok.count(v)) return bad(fmt::format("'{}' is not a boolean (true, false)", v));
    } else if (key == "host_key_policy") {
      if (v != "strict" && v != "accept-new") return bad(fmt::format("'{}' is not a host key policy (strict, accept-new)", v));
    } else if (key == "timeout" || key == "test_delay" || key == "test_transition" || key == "cycle_delay") {
      if (!parse_duration(v)) return bad(fmt::format("'{}' is not a duration (like 500ms, 5s, 2m)", v));
    } else if (key == "test_state") {
      if (v != "on" && v != "off") return bad(fmt::format("'{}' is not a power state (on, off)", v));
    }
    return true;
  }

  // Reads target keys (and a nested `vars`) from a map into *out.
  void read_keys(const YAML::Node& n, const std::string& path, KeyMap* out,
                 const std::set<std::string>& extra_allowed = {}, bool allow_vars = true) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      error(loc_of(n), path, "expected a mapping of keys");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      std::string kp = path + "." + k;
      Loc kl = loc_of(it->first);
      if (extra_allowed.count(k)) continue;
      if (k == "vars" && allow_vars) {
        read_keys(it->second, kp, out, {}, false);
        continue;
      }
      if (std::find(std::begin(kSecretKeys), std::end(kSecretKeys), k) != std::end(kSecretKeys)) {
        error(kl, kp, "credentials do not belong in the inventory: name an entry of the credentials file with 'credentials: NAME'");
        continue;
      }
      bool known = std::find(kTargetKeys.begin(), kTargetKeys.end(), k) != kTargetKeys.end();
      if (!known && !is_custom_key(k)) {
        auto pool = target_key_pool();
        for (const auto& e : extra_allowed) pool.push_back(e);
        if (allow_vars) pool.emplace_back("vars");
        unknown_key(kl, path, k, pool);
        continue;
      }
      if (k == "bmc" && it->second.IsMap()) {
        // explicit per-host map
        const YAML::Node map = it->second;
        for (auto b = map.begin(); b != map.end(); ++b) {
          if (!b->second.IsScalar()) {
            error(loc_of(b->second), kp + "." + b->first.Scalar(), "expected an address");
            continue;
          }
          bmc_map_[b->first.Scalar()] = {b->second.Scalar(), loc_of(b->second), kp + "." + b->first.Scalar()};
        }
        continue;
      }
      auto v = scalar_text(it->second, kp);
      if (!v) continue;
      if (out->count(k)) {
        error(kl, kp, fmt::format("'{}' is set twice at this level", k));
        continue;
      }
      Loc vl = loc_of(it->second);
      if (!check_value(k, *v, vl, kp)) continue;
      (*out)[k] = {*v, vl, kp};
    }
  }

  bool expand_list(const Value& v, std::vector<std::string>* out) {
    hostlist::Error e;
    if (!hostlist::expand(v.text, out, &e)) {
      Loc l = v.loc;
      // point at the column within a plain scalar on one line
      if (l.column > 0 && e.column > 0) l.column += static_cast<int>(e.column) - 1;
      error(l, v.key_path, fmt::format("bad hostlist '{}': {}", v.text, e.message));
      return false;
    }
    return true;
  }

  void read_groups(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(loc_of(n), "groups", "expected a mapping of group names");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      GroupDef g;
      g.name = it->first.Scalar();
      g.loc = loc_of(it->first);
      std::string path = "groups." + g.name;
      if (g.name.empty() || g.name == "all" ||
          g.name.find_first_of("@,[] \t") != std::string::npos) {
        error(g.loc, path, fmt::format("'{}' is not a valid group name ('all' is reserved; no @ , [ ] or spaces)", g.name));
        continue;
      }
      if (group_index_.count(g.name)) {
        error(g.loc, path, "group defined twice");
        continue;
      }
      const YAML::Node body = it->second;  // a copy: the iterator yields a temporary
      if (body.IsMap()) {
        for (auto b = body.begin(); b != body.end(); ++b) {
          std::string k = b->first.Scalar();
          if (k == "hosts" || k == "members") {
            auto t = scalar_text(b->second, path + "." + k);
            if (!t) continue;
            Value v{*t, loc_of(b->second), path + "." + k};
            auto* dst = k == "hosts" ? &g.hosts : &g.members;
            (k == "hosts" ? g.hosts_expr : g.members_expr) = v;
            expand_list(v, dst);
          } else if (k == "children") {
            if (b->second.IsScalar()) {
              g.children.push_back(b->second.Scalar());
              g.child_locs.push_back(loc_of(b->second));
            } else if (b->second.IsSequence()) {
              // A copy: `b->second` lives in a temporary the iterator returns, which a
              // range-for over it would outlive (ASan: stack-use-after-scope).
              const YAML::Node list = b->second;
              for (const auto& c : list) {
                g.children.push_back(c.Scalar());
                g.child_locs.push_back(loc_of(c));
              }
            } else {
              error(loc_of(b->second), path + ".children", "expected a list of group names");
            }
          }
        }
        read_keys(body, path, &g.keys, {"hosts", "members", "children"});
      } else if (body.IsScalar()) {
        // shorthand: `rack1: node[001-040]`
        Value v{body.Scalar(), loc_of(body), path};
        g.hosts_expr = v;
        expand_list(v, &g.hosts);
      } else if (!body.IsNull()) {
        error(loc_of(body), path, "expected a mapping (hosts, members, children, vars, ...) or a hostlist");
        continue;
      }
      group_index_[g.name] = groups_.size();
      groups_.push_back(std::move(g));
    }
  }

  void read_hosts(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(loc_of(n), "hosts", "expected a mapping of host names (or hostlists) to keys");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string expr = it->first.Scalar();
      Value v{expr, loc_of(it->first), "hosts." + expr};
      std::vector<std::string> names;
      if (!expand_list(v, &names)) continue;
      KeyMap keys;
      read_keys(it->second, "hosts." + expr, &keys);
      for (auto& name : names) {
        auto& dst = host_keys_[name];
        for (auto& [k, val] : keys) {
          if (dst.count(k)) {
            error(val.loc, val.key_path, fmt::format("'{}' for {} is already set at {}:{}", k, name, file_, dst[k].loc.line));
            continue;
          }
          dst[k] = val;
        }
        if (!host_loc_.count(name)) {
          host_loc_[name] = v.loc;
          host_order_.push_back(name);
        }
      }
    }
  }

  void read_power(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(loc_of(n), "power", "expected a mapping");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.Scalar();
      if (k == "circuits") {
        read_circuits(it->second);
      } else if (k == "start_watts_factor" || k == "start_duration" || k == "default_watts") {
        if (!it->second.IsScalar()) {
          error(loc_of(it->second), "power." + k, "expected a value");
          continue;
        }
        std::string v = it->second.Scalar();
        if (k == "start_duration" ? !parse_duration(v).has_value() : !is_number(v)) {
          error(loc_of(it->second), "power." + k, fmt::format("'{}' is not a valid value", v));
          continue;
        }
        inv_->power[k] = v;
      } else {
        unknown_key(loc_of(it->first), "power", k, {"circuits", "start_watts_factor", "start_duration", "default_watts"});
      }
    }
  }

  static bool is_number(const std::string& v) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    return !v.empty() && !*end && d >= 0;
  }

  void read_circuits(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(loc_of(n), "power.circuits", "expected a mapping of circuit names");
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      Circuit c;
      c.name = it->first.Scalar();
      std::string path = "power.circuits." + c.name;
      if (!it->second.IsMap()) {
        error(loc_of(it->second), path, "expected a mapping (feed, phase, max_concurrent_starts, max_watts, min_spacing)");
        continue;
      }
      const YAML::Node body = it->second;
      for (auto f = body.begin(); f != body.end(); ++f) {
        std::string k = f->first.Scalar();
        std::string v = f->second.IsScalar() ? f->second.Scalar() : "";
        Loc l = loc_of(f->second);
        if (k == "feed") {
          c.feed = v;
        } else if (k == "phase") {
          c.phase = v;
        } else if (k == "max_concurrent_starts") {
          char* end = nullptr;
          long x = std::strtol(v.c_str(), &end, 10);
          if (v.empty() || *end || x < 1) error(l, path + "." + k, fmt::format("'{}' is not a positive integer", v));
          else c.max_concurrent_starts = static_cast<int>(x);
        } else if (k == "max_watts") {
          if (!is_number(v)) error(l, path + "." + k, fmt::format("'{}' is not a wattage", v));
          else c.max_watts = std::strtod(v.c_str(), nullptr);
        } else if (k == "min_spacing") {
          auto d = parse_duration(v);
          if (!d) error(l, path + "." + k, fmt::format("'{}' is not a duration", v));
          else c.min_spacing_ms = d->count();
        } else {
          unknown_key(loc_of(f->first), path, k, {"feed", "phase", "max_concurrent_starts", "max_watts", "min_spacing"});
        }
      }
      inv_->circuits[c.name] = c;
    }
  }

  // Parent chain of a group, nearest first (breadth-first over parents).
  std::vector<std::size_t> ancestors(std::size_t g) {
    std::vector<std::size_t> out;
    std::vector<std::size_t> frontier{g};
    std::set<std::size_t> seen{g};
    while (!frontier.empty()) {
      std::vector<std::size_t> next;
      for (auto x : frontier)
        for (auto p : parents_[x])
          if (seen.insert(p).second) {
            out.push_back(p);
            next.push_back(p);
          }
      frontier = std::move(next);
    }
    return out;
  }

  static std::string apply_template(const std::string& v, const std::string& host, std::size_t index) {
    if (v.find('{') == std::string::npos) return v;
    std::string num;
    auto last_digit = host.find_last_of("0123456789");
    if (last_digit != std::string::npos) {
      auto first = host.find_last_not_of("0123456789", last_digit);
      num = host.substr(first == std::string::npos ? 0 : first + 1, last_digit - (first == std::string::npos ? 0 : first + 1) + 1);
    }
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
      if (v.compare(i, 6, "{host}") == 0) {
        out += host;
        i += 6;
      } else if (v.compare(i, 5, "{num}") == 0) {
        out += num;
        i += 5;
      } else if (v.compare(i, 7, "{index}") == 0) {
        out += std::to_string(index);
        i += 7;
      } else {
        out += v[i++];
      }
    }
    return out;
  }

  void build() {
    // parents
    parents_.assign(groups_.size(), {});
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      for (std::size_t ci = 0; ci < g.children.size(); ++ci) {
        auto it = group_index_.find(g.children[ci]);
        if (it == group_index_.end()) {
          std::vector<std::string> pool;
          for (auto& x : groups_) pool.push_back(x.name);
          auto dym = did_you_mean(g.children[ci], pool, 1);
          error(g.child_locs[ci], "groups." + g.name + ".children",
                fmt::format("unknown group '{}'{}", g.children[ci], dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])));
          continue;
        }
        if (it->second == gi) {
          error(g.child_locs[ci], "groups." + g.name + ".children", "a group cannot contain itself");
          continue;
        }
        parents_[it->second].push_back(gi);
      }
    }
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      auto anc = ancestors(gi);
      if (std::find(anc.begin(), anc.end(), gi) != anc.end())
        error(groups_[gi].loc, "groups." + groups_[gi].name + ".children", "groups form a cycle");
    }

    // Definitions: which group defines each host.
    std::map<std::string, std::size_t> defined_in;  // host -> group index
    std::vector<std::pair<std::string, std::size_t>> def_order;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      for (auto& h : g.hosts) {
        auto [it, inserted] = defined_in.emplace(h, gi);
        if (!inserted) {
          auto& other = groups_[it->second];
          error(g.hosts_expr.loc, g.hosts_expr.key_path,
                fmt::format("duplicate host {}: already defined by {} at {}:{} (use 'members' to reference a host from a second group)",
                            h, other.hosts_expr.key_path, file_, other.hosts_expr.loc.line));
          continue;
        }
        def_order.emplace_back(h, gi);
      }
    }
    // Hosts only under top-level `hosts:` are standalone targets.
    constexpr std::size_t kNoGroup = static_cast<std::size_t>(-1);
    for (auto& h : host_order_)
      if (!defined_in.count(h)) def_order.emplace_back(h, kNoGroup);

    // Group-level bmc lists are zipped with that group's hosts.
    std::map<std::size_t, std::vector<std::string>> zipped;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      auto it = g.keys.find("bmc");
      if (it == g.keys.end() || it->second.text.find('{') != std::string::npos) continue;
      std::vector<std::string> addrs;
      if (!expand_list(it->second, &addrs)) continue;
      if (addrs.size() == 1 && g.hosts.size() <= 1) continue;
      if (addrs.size() == 1) {
        // several systems behind one BMC (blade chassis): allowed, but each needs `system`
        continue;
      }
      if (g.hosts.empty()) {
        error(it->second.loc, it->second.key_path, "a bmc list is zipped with the group's own 'hosts'; this group defines none");
        continue;
      }
      if (addrs.size() != g.hosts.size()) {
        error(it->second.loc, it->second.key_path,
              fmt::format("{} BMC addresses for {} hosts: a bmc list must have one address per host", addrs.size(), g.hosts.size()));
        continue;
      }
      zipped[gi] = std::move(addrs);
    }

    std::map<std::string, std::size_t> index_in_group;
    inv_->targets.reserve(inv_->targets.size() + def_order.size());
    for (auto& [h, gi] : def_order) {
      Target t;
      t.name = h;
      KeyMap merged = defaults_;
      std::size_t index = 0;
      if (gi != kNoGroup) {
        auto anc = ancestors(gi);
        for (auto a = anc.rbegin(); a != anc.rend(); ++a)
          for (auto& [k, v] : groups_[*a].keys) merged[k] = v;
        for (auto& [k, v] : groups_[gi].keys) merged[k] = v;
        index = ++index_in_group[groups_[gi].name];
        auto z = zipped.find(gi);
        if (z != zipped.end()) merged["bmc"].text = z->second[index - 1];
        t.origin = fmt::format("{}:{}", file_, groups_[gi].hosts_expr.loc.line);
      }
      auto hk = host_keys_.find(h);
      if (hk != host_keys_.end())
        for (auto& [k, v] : hk->second) merged[k] = v;
      auto bm = bmc_map_.find(h);
      if (bm != bmc_map_.end()) merged["bmc"] = bm->second;
      if (t.origin.empty()) t.origin = fmt::format("{}:{}", file_, host_loc_[h].line);

      for (auto& [k, v] : merged) {
        std::string val = apply_template(v.text, h, index);
        if (val != v.text && !check_value(k, val, v.loc, v.key_path + " (for " + h + ")")) continue;
        if (val.find('{') != std::string::npos) {
          error(v.loc, v.key_path, fmt::format("unknown placeholder in '{}' (use {{host}}, {{num}} or {{index}})", v.text));
          continue;
        }
        if (k == "bmc") t.bmc = val;
        else if (k == "protocol") t.protocol = val;
        else if (k == "vendor") t.vendor = val;
        else if (k == "credentials") t.credentials = val;
        else if (k == "port") t.port = static_cast<std::uint16_t>(std::strtol(val.c_str(), nullptr, 10));
        else t.vars[k] = val;
      }
      if (t.protocol.empty()) t.protocol = "auto";
      if (t.bmc.empty() && t.protocol != "test" && !t.vars.count("outlets")) {
        error(host_loc_.count(h) ? host_loc_[h] : (gi != kNoGroup ? groups_[gi].hosts_expr.loc : Loc{}),
              gi != kNoGroup ? "groups." + groups_[gi].name + ".bmc" : "hosts." + h + ".bmc",
              fmt::format("no BMC address for {} (set 'bmc' on the host, its group or in defaults, e.g. \"{{host}}-bmc\")", h));
      }
      inv_->by_name[h] = inv_->targets.size();
      inv_->targets.push_back(std::move(t));
    }

    // Several targets on one BMC must be told apart by `system`.
    std::map<std::string, std::vector<const Target*>> per_bmc;
    for (auto& t : inv_->targets)
      if (!t.bmc.empty()) per_bmc[t.bmc_key() + "|" + t.var_or("system", "") + "|" + t.var_or("outlet", "")].push_back(&t);
    for (auto& [k, ts] : per_bmc) {
      if (ts.size() < 2) continue;
      std::vector<std::string> names;
      for (auto* t : ts) names.push_back(t->name);
      error({}, "bmc",
            fmt::format("{} share BMC {} without distinct 'system' keys (a bmc list needs one address per host)",
                        hostlist::fold(names), ts.front()->bmc));
    }

    // Groups: members = own hosts + referenced members + children's members.
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      std::vector<std::string> members;
      std::set<std::string> seen;
      collect(gi, &members, &seen, 0);
      inv_->groups[groups_[gi].name] = std::move(members);
    }
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      for (auto& m : g.members)
        if (!inv_->by_name.count(m)) {
          std::vector<std::string> pool;
          for (auto& t : inv_->targets) pool.push_back(t.name);
          auto dym = did_you_mean(m, pool, 1);
          error(g.members_expr.loc, g.members_expr.key_path,
                fmt::format("member {} is not defined anywhere{}", m, dym.empty() ? "" : fmt::format(" (did you mean {}?)", dym[0])));
        }
    }
    // Circuits referenced by targets must exist when circuits are declared.
    if (!inv_->circuits.empty()) {
      std::set<std::string> reported;
      for (auto& t : inv_->targets) {
        auto* c = t.var("circuit");
        if (c && !inv_->circuits.count(*c) && reported.insert(*c).second) {
          std::vector<std::string> pool;
          for (auto& [n, _] : inv_->circuits) pool.push_back(n);
          auto dym = did_you_mean(*c, pool, 1);
          error({}, "circuit", fmt::format("{} names circuit '{}', which power.circuits does not declare{}", t.name, *c,
                                           dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])));
        }
      }
    }
  }

  void collect(std::size_t gi, std::vector<std::string>* out, std::set<std::string>* seen, int depth) {
    if (depth > 64) return;  // cycles are reported elsewhere
    auto add = [&](const std::string& h) {
      if (inv_->by_name.count(h) && seen->insert(h).second) out->push_back(h);
    };
    for (auto& h : groups_[gi].hosts) add(h);
    for (auto& h : groups_[gi].members) add(h);
    for (auto& c : groups_[gi].children) {
      auto it = group_index_.find(c);
      if (it != group_index_.end() && it->second != gi) collect(it->second, out, seen, depth + 1);
    }
  }

  std::string file_;
  Inventory* inv_;
  std::vector<Diagnostic>* diags_;
  int errors_ = 0;
  KeyMap defaults_;
  std::vector<GroupDef> groups_;
  std::map<std::string, std::size_t> group_index_;
  std::vector<std::vector<std::size_t>> parents_;
  std::map<std::string, KeyMap> host_keys_;
  std::map<std::string, Loc> host_loc_;
  std::vector<std::string> host_order_;
  std::map<std::string, Value> bmc_map_;
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const std::vector<std::string_view>& known_target_keys() { return kTargetKeys; }

std::vector<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& pool,
                                      std::size_t max) {
  std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& p : pool) {
    if (p.size() > word.size() + limit || word.size() > p.size() + limit) continue;
    auto d = edit_distance(word, p);
    if (d <= limit) scored.emplace_back(d, p);
  }
  std::stable_sort(scored.begin(), scored.end(), [](auto& x, auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& [d, p] : scored) {
    if (out.size() >= max) break;
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

bool load_inventory_text(const std::string& text, const std::string& name, Inventory* out,
                         std::vector<Diagnostic>* diags) {
  out->path = name;
  Loader l(name, out, diags);
  return l.run(text);
}

bool load_inventory(const std::string& path, Inventory* out, std::vector<Diagnostic>* diags) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    diags->push_back({path, 0, 0, "", "cannot open the inventory file", false});
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.size() > 64u * 1024 * 1024) {
    diags->push_back({path, 0, 0, "", "the inventory file is larger than 64 MiB", false});
    return false;
  }
  return load_inventory_text(text, path, out, diags);
}

std::string default_inventory_path() {
  std::vector<std::string> candidates;
  if (const char* e = std::getenv("FLEETPOWER_INVENTORY"); e && *e) return e;
  candidates = {"fleetpower.yaml", "/etc/fleetpower/inventory.yaml"};
  for (auto& c : candidates)
    if (::access(c.c_str(), R_OK) == 0) return c;
  return "/etc/fleetpower/inventory.yaml";
}

bool resolve_selection(const Inventory& inv, const Selection& sel, std::vector<const Target*>* out,
                       std::string* err) {
  std::vector<std::string> all_names;
  all_names.reserve(inv.targets.size());
  for (auto& t : inv.targets) all_names.push_back(t.name);

  auto names_of = [&](const std::string& expr, std::vector<std::string>* names) -> bool {
    std::vector<std::string> unknown;
    // comma-separated top level may mix @groups and hostlists: split respecting brackets
    // Split at top-level commas, keeping each part's column for error messages.
    std::vector<std::pair<std::string, std::size_t>> parts;
    int depth = 0;
    std::string cur;
    std::size_t cur_start = 0;
    for (std::size_t i = 0; i < expr.size(); ++i) {
      char c = expr[i];
      if (c == '[') ++depth;
      if (c == ']') --depth;
      if (c == ',' && depth == 0) {
        parts.emplace_back(cur, cur_start);
        cur.clear();
        cur_start = i + 1;
      } else {
        cur += c;
      }
    }
    parts.emplace_back(cur, cur_start);
    for (auto& [raw, offset] : parts) {
      std::string p = raw;
      std::size_t lead = p.find_first_not_of(" \t");
      if (lead == std::string::npos) {
        *err = fmt::format("empty element at column {} of '{}'", offset + 1, expr);
        return false;
      }
      p = p.substr(lead, p.find_last_not_of(" \t") - lead + 1);
      if (p[0] == '@') {
        std::string g = p.substr(1);
        if (g == "all") {
          *err = "use --all to address the whole inventory (a safety rail against typos)";
          return false;
        }
        auto it = inv.groups.find(g);
        if (it == inv.groups.end()) {
          std::vector<std::string> pool;
          for (auto& [n, _] : inv.groups) pool.push_back(n);
          auto dym = did_you_mean(g, pool);
          *err = fmt::format("unknown group @{}", g);
          if (!dym.empty()) *err += fmt::format(" (did you mean @{}?)", fmt::join(dym, ", @"));
          return false;
        }
        names->insert(names->end(), it->second.begin(), it->second.end());
        continue;
      }
      std::vector<std::string> expanded;
      hostlist::Error e;
      if (!hostlist::expand(p, &expanded, &e)) {
        *err = fmt::format("bad hostlist '{}' at column {}: {}", expr, e.column + offset + lead, e.message);
        return false;
      }
      for (auto& n : expanded) {
        if (inv.by_name.count(n)) names->push_back(n);
        else unknown.push_back(n);
      }
    }
    if (!unknown.empty()) {
      *err = fmt::format("unknown host{} {} (not in {})", unknown.size() > 1 ? "s" : "",
                         hostlist::fold(unknown), inv.path);
      auto dym = did_you_mean(unknown.front(), all_names);
      if (dym.empty() && inv.groups.count(unknown.front())) *err += fmt::format(" (did you mean @{}?)", unknown.front());
      else if (!dym.empty()) *err += fmt::format(" (did you mean {}?)", fmt::join(dym, ", "));
      return false;
    }
    return true;
  };

  std::vector<std::string> chosen;
  if (sel.all) {
    chosen = all_names;
  }
  for (auto& e : sel.include)
    if (!names_of(e, &chosen)) return false;
  if (!sel.all && sel.include.empty()) {
    *err = "no targets selected: name hosts (node[001-040]), groups (@rack3) or --all";
    return false;
  }
  std::set<std::string> excluded;
  for (auto& e : sel.exclude) {
    std::vector<std::string> names;
    if (!names_of(e, &names)) return false;
    excluded.insert(names.begin(), names.end());
  }
  std::set<std::string> seen;
  std::vector<std::size_t> idx;
  for (auto& n : chosen)
    if (!excluded.count(n) && seen.insert(n).second) idx.push_back(inv.by_name.at(n));
  std::sort(idx.begin(), idx.end());
  out->clear();
  for (auto i : idx) out->push_back(&inv.targets[i]);
  if (out->empty()) {
    *err = "the selection is empty after exclusions";
    return false;
  }
  return true;
}

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
// Defaults from /etc/fleetpower/fleetpower.conf, then ~/.config/fleetpower/config (YAML);
// the command line overrides both.
#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "core/duration.hpp"

namespace fleetpower::cli {

namespace {
struct Key {
  const char* name;
  enum Kind { Str, Dur, Count, Bool, Output } kind;
  void* field;
};

bool apply_file(const std::string& path, Globals& g, std::vector<Diagnostic>* diags) {
  std::ifstream f(path);
  if (!f) return true;  // absent files are fine
  std::stringstream ss;
  ss << f.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::ParserException& e) {
    diags->push_back({path, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg, false});
    return false;
  }
  if (root.IsNull()) return true;
  if (!root.IsMap()) {
    diags->push_back({path, 1, 1, "", "expected a mapping of option names to values", false});
    return false;
  }
  const Key keys[] = {
      {"inventory", Key::Str, &g.inventory},       {"credentials", Key::Str, &g.credentials},
      {"fanout", Key::Count, &g.fanout},           {"timeout", Key::Dur, &g.timeout},
      {"deadline", Key::Dur, &g.deadline},         {"output", Key::Output, &g.output},
      {"ca_file", Key::Str, &g.ca_file},           {"audit_log", Key::Str, &g.audit_log},
      {"journal_dir", Key::Str, &g.journal_dir},   {"confirm_over", Key::Count, &g.confirm_over},
      {"wait_timeout", Key::Dur, &g.wait_timeout}, {"batch_delay", Key::Dur, &g.batch_delay},
      {"no_progress", Key::Bool, &g.no_progress},  {"plugin_dir", Key::Str, &g.config_plugin_dir},
  };
  bool ok = true;
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.Scalar();
    int line = it->first.Mark().line + 1, col = it->first.Mark().column + 1;
    const Key* key = nullptr;
    for (auto& c : keys)
      if (k == c.name) key = &c;
    if (!key) {
      std::vector<std::string> pool;
      for (auto& c : keys) pool.emplace_back(c.name);
      auto dym = did_you_mean(k, pool, 1);
      diags->push_back({path, line, col, k,
                        fmt::format("unknown option '{}'{}", k, dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])),
                        false});
      ok = false;
      continue;
    }
    const YAML::Node v = it->second;
    if (!v.IsScalar()) {
      diags->push_back({path, line, col, k, "expected a single value", false});
      ok = false;
      continue;
    }
    std::string s = v.Scalar();
    auto bad = [&](const char* what) {
      diags->push_back({path, line, col, k, fmt::format("'{}' is not {}", s, what), false});
      ok = false;
    };
    switch (key->kind) {
      case Key::Str:
        *static_cast<std::string*>(key->field) = s;
        break;
      case Key::Dur:
        if (!parse_duration(s)) bad("a duration (like 500ms, 5s, 2m)");
        else *static_cast<std::string*>(key->field) = s;
        break;
      case Key::Count: {
        char* end = nullptr;
        long n = std::strtol(s.c_str(), &end, 10);
        if (s.empty() || *end || n < 1 || n > 16384) bad("a count (1-16384)");
        else *static_cast<std::size_t*>(key->field) = static_cast<std::size_t>(n);
        break;
      }
      case Key::Bool:
        if (s == "true" || s == "yes") *static_cast<bool*>(key->field) = true;
        else if (s == "false" || s == "no") *static_cast<bool*>(key->field) = false;
        else bad("true or false");
        break;
      case Key::Output:
        if (s != "text" && s != "json" && s != "jsonl") bad("an output format (text, json, jsonl)");
        else *static_cast<std::string*>(key->field) = s;
        break;
    }
  }
  return ok;
}
}  // namespace

std::vector<std::string> config_paths() {
  std::vector<std::string> out{"/etc/fleetpower/fleetpower.conf"};
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) out.push_back(std::string(x) + "/fleetpower/config");
  else if (const char* h = std::getenv("HOME"); h && *h) out.push_back(std::string(h) + "/.config/fleetpower/config");
  if (const char* c = std::getenv("FLEETPOWER_CONFIG"); c && *c) out = {c};
  return out;
}

bool load_config(Globals& g, std::string* err) {
  std::vector<Diagnostic> diags;
  bool ok = true;
  for (auto& p : config_paths()) ok = apply_file(p, g, &diags) && ok;
  for (auto& d : diags) *err += d.str() + "\n";
  return ok;
}

}  // namespace fleetpower::cli

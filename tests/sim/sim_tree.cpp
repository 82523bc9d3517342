// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: loading a Redfish tree (mockup directory) and indexing what the simulated
// BMC needs from it: systems, reset targets and their allowed values, session paths, vendor.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "sim.hpp"

namespace fleetpower::sim {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string iso_now(std::int64_t* epoch_ms) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (epoch_ms) *epoch_ms = ms;
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string random_password(std::size_t n) {
  static const char* al = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  static const std::size_t al_n = std::strlen(al);
  std::vector<unsigned char> r(n);
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1) {
    std::random_device rd;
    for (auto& c : r) c = static_cast<unsigned char>(rd());
  }
  std::string s;
  for (auto c : r) s += al[c % al_n];
  return s;
}

bool write_file_atomic(const std::string& path, const std::string& text, unsigned mode,
                       std::string* err) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    *err = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  fchmod(fd, mode);
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      *err = "cannot write " + path;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *err = "cannot rename " + tmp;
    return false;
  }
  return true;
}

std::string yaml_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

bool parse_duration(std::string_view s, Millis* out) {
  if (s.empty()) return false;
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return false;
  double v = 0;
  try {
    v = std::stod(std::string(s.substr(0, i)));
  } catch (...) {
    return false;
  }
  std::string_view unit = s.substr(i);
  double ms = 0;
  if (unit.empty() || unit == "s")
    ms = v * 1000;
  else if (unit == "ms")
    ms = v;
  else if (unit == "m")
    ms = v * 60000;
  else if (unit == "h")
    ms = v * 3600000;
  else
    return false;
  if (ms < 0 || ms > 1e10) return false;
  *out = Millis(static_cast<long long>(ms));
  return true;
}

std::string normalize_path(std::string_view target) {
  auto q = target.find_first_of("?#");
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::string p(target);
  // Collapse duplicate slashes.
  std::string outp;
  outp.reserve(p.size());
  for (char c : p) {
    if (c == '/' && !outp.empty() && outp.back() == '/') continue;
    outp.push_back(c);
  }
  while (outp.size() > 1 && outp.back() == '/') outp.pop_back();
  return outp;
}

namespace {

constexpr std::uintmax_t kMaxFileBytes = 8u << 20;    // one resource
constexpr std::uintmax_t kMaxTreeBytes = 256u << 20;  // a whole tree

bool read_file(const fs::path& p, std::string* out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

const json::object* obj_at(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto* p = v.as_object().if_contains(key);
  return p && p->is_object() ? &p->as_object() : nullptr;
}

std::string odata_id(const json::value* v) {
  if (!v || !v->is_object()) return {};
  auto* id = v->as_object().if_contains("@odata.id");
  if (!id || !id->is_string()) return {};
  return normalize_path(std::string(id->as_string()));
}

std::optional<json::value> parse_raw(const Personality& p, const std::string& path) {
  auto it = p.raw.find(path);
  if (it == p.raw.end()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  if (ec) return std::nullopt;
  return v;
}

const std::vector<std::string> kAllResetTypes = {
    "On",  "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
    "Nmi", "ForceOn",  "PushPowerButton",  "PowerCycle"};

/// Folders of loose fixture files (one resource per *.json, any names): each file is served at
/// the "@odata.id" it carries.  Files are taken folder by folder, in sorted path order; the first
/// file claiming a path wins (fixture folders hold variants of one resource).
bool load_fixtures(const std::vector<std::string>& dirs, Personality* out, std::string* err) {
  std::uintmax_t total = 0;
  std::vector<fs::path> files;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> these;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied,
                                             ec),
         end;
         !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->path().extension() != ".json") continue;
      auto sz = it->file_size(ec);
      if (ec || sz > kMaxFileBytes) continue;
      total += sz;
      if (total > kMaxTreeBytes) {
        *err = "fixture folder " + dir + " is larger than the 256 MiB limit";
        return false;
      }
      these.push_back(it->path());
    }
    if (ec) {
      *err = "cannot read " + dir + ": " + ec.message();
      return false;
    }
    std::sort(these.begin(), these.end());
    files.insert(files.end(), these.begin(), these.end());
  }
  if (dirs.empty()) {
    *err = "no fixture folder";
    return false;
  }
  const std::string& dir = dirs.front();
  out->source = dir;
  if (out->name.empty()) out->name = fs::path(dir).filename().string();
  for (const auto& f : files) {
    std::string body;
    if (!read_file(f, &body)) continue;
    boost::system::error_code jec;
    json::value v = json::parse(body, jec);
    if (jec || !v.is_object()) continue;
    auto* id = v.as_object().if_contains("@odata.id");
    if (!id || !id->is_string()) continue;
    std::string path = normalize_path(std::string(id->as_string()));
    if (path.rfind("/redfish/v1", 0) != 0) continue;
    out->raw.emplace(path, std::move(body));  // first wins
  }
  if (!out->raw.count("/redfish/v1")) {
    *err = "no service root in " + dir +
           " (neither index.json trees nor a fixture with \"@odata.id\": \"/redfish/v1\")";
    return false;
  }
  return index_personality(out, err);
}

bool load_fixture_dir(const std::string& dir, Personality* out, std::string* err) {
  return load_fixtures({dir}, out, err);
}

}  // namespace

bool load_fixture_dirs(const std::vector<std::string>& dirs, Personality* out, std::string* err) {
  return load_fixtures(dirs, out, err);
}

bool load_mockup_dir(const std::string& dir, Personality* out, std::string* err) {
  std::error_code ec;
  fs::path base(dir);
  if (fs::exists(base / "redfish" / "v1" / "index.json", ec)) base = base / "redfish" / "v1";
  if (!fs::exists(base / "index.json", ec)) return load_fixture_dir(dir, out, err);
  out->source = dir;
  if (out->name.empty()) {
    fs::path d(dir);
    std::string nm = d.filename().string();
    if (nm.empty()) nm = d.parent_path().filename().string();
    out->name = nm;
  }
  std::uintmax_t total = 0;
  fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    *err = "cannot read " + base.string() + ": " + ec.message();
    return false;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      *err = "cannot walk " + base.string() + ": " + ec.message();
      return false;
    }
    const auto& e = *it;
    if (!e.is_regular_file(ec)) continue;
    fs::path rel = fs::relative(e.path(), base, ec);
    if (ec) continue;
    std::string fname = rel.filename().string();
    if (fname.size() < 5 || fname.substr(fname.size() - 5) != ".json") continue;
    if (rel.parent_path().empty() && fname == "explorer_config.json") continue;
    auto sz = e.file_size(ec);
    if (ec || sz > kMaxFileBytes) continue;
    total += sz;
    if (total > kMaxTreeBytes) {
      *err = "tree " + dir + " is larger than the 256 MiB limit";
      return false;
    }
    std::string path = "/redfish/v1";
    if (fname == "index.json") {
      std::string parent = rel.parent_path().generic_string();
      if (!parent.empty()) path += "/" + parent;
    } else {
      path += "/" + rel.generic_string();
    }
    std::string body;
    if (!read_file(e.path(), &body)) continue;
    out->raw[normalize_path(path)] = std::move(body);
  }
  return index_personality(out, err);
}

bool index_personality(Personality* p, std::string* err) {
  p->systems.clear();
  p->reset_targets.clear();
  p->system_paths.clear();
  p->oem_button_targets.clear();
  auto root = parse_raw(*p, "/redfish/v1");
  if (!root || !root->is_object()) {
    *err = p->name + ": service root is missing or not JSON";
    return false;
  }
  const auto& ro = root->as_object();
  if (auto* v = ro.if_contains("Vendor"); v && v->is_string()) p->vendor = v->as_string();
  if (auto* oem = obj_at(*root, "Oem"); oem && p->vendor.empty() && !oem->empty())
    p->vendor = oem->begin()->key();
  if (auto* oem = obj_at(*root, "Oem"); oem && (oem->contains("Hpe") || oem->contains("Hp")))
    p->hpe_envelope = true;
  if (p->vendor.empty())
    if (auto* v = ro.if_contains("Product"); v && v->is_string()) p->vendor = v->as_string();

  if (auto* pf = obj_at(*root, "ProtocolFeaturesSupported"))
    if (auto* eq = pf->if_contains("ExpandQuery"); eq && eq->is_object())
      for (const auto& kv : eq->as_object())
        if (kv.key() != "MaxLevels" && kv.value().is_bool() && kv.value().as_bool())
          p->expand = true;
  if (auto s = odata_id(ro.if_contains("SessionService")); !s.empty()) {
    p->session_service_path = s;
    if (auto ss = parse_raw(*p, s)) {
      if (auto sp = odata_id(ss->is_object() ? ss->as_object().if_contains("Sessions") : nullptr);
          !sp.empty())
        p->sessions_path = sp;
    }
  }
  if (auto* links = obj_at(*root, "Links"))
    if (auto sp = odata_id(links->if_contains("Sessions")); !sp.empty()) p->sessions_path = sp;

  std::string systems_path = odata_id(ro.if_contains("Systems"));
  if (systems_path.empty()) {
    *err = p->name + ": service root has no Systems collection";
    return false;
  }
  auto coll = parse_raw(*p, systems_path);
  if (!coll || !coll->is_object()) {
    *err = p->name + ": Systems collection " + systems_path + " missing";
    return false;
  }
  auto* members = coll->as_object().if_contains("Members");
  if (!members || !members->is_array()) {
    *err = p->name + ": Systems collection has no Members";
    return false;
  }
  for (const auto& m : members->as_array()) {
    std::string sp = odata_id(&m);
    if (sp.empty()) continue;
    auto sys = parse_raw(*p, sp);
    if (!sys || !sys->is_object()) continue;
    SystemTemplate t;
    t.path = sp;
    t.base = sys->as_object();
    if (auto* id = t.base.if_contains("Id"); id && id->is_string())
      t.id = id->as_string();
    else
      t.id = sp.substr(sp.rfind('/') + 1);
    t.power_initial = "On";
    if (auto* ps = t.base.if_contains("PowerState"); ps && ps->is_string()) {
      std::string s(ps->as_string());
      t.power_initial = (s == "Off" || s == "PoweringOn") ? "Off" : "On";
    }
    if (auto* boot = t.base.if_contains("Boot"); boot && boot->is_object()) {
      t.has_boot = true;
      if (auto* av =
              boot->as_object().if_contains("BootSourceOverrideTarget@Redfish.AllowableValues");
          av && av->is_array())
        for (const auto& v : av->as_array())
          if (v.is_string()) t.boot_targets.emplace_back(v.as_string());
      if (auto* ev =
              boot->as_object().if_contains("BootSourceOverrideEnabled@Redfish.AllowableValues");
          ev && ev->is_array())
        for (const auto& v : ev->as_array())
          if (v.is_string()) t.boot_enabled_allowed.emplace_back(v.as_string());
    }
    // An OEM power button (iLO: Oem.Hpe.Actions["#HpeComputerSystemExt.PowerButton"]).
    if (auto* oem = t.base.if_contains("Oem"); oem && oem->is_object())
      for (const auto& vendor : oem->as_object()) {
        auto* acts = vendor.value().is_object() ? vendor.value().as_object().if_contains("Actions")
                                                : nullptr;
        if (!acts || !acts->is_object()) continue;
        for (const auto& a : acts->as_object()) {
          std::string_view k = a.key();
          if (k.size() < 12 || k.substr(k.size() - 12) != ".PowerButton" || !a.value().is_object())
            continue;
          if (auto* tg = a.value().as_object().if_contains("target"); tg && tg->is_string())
            t.oem_button_target = normalize_path(std::string(tg->as_string()));
        }
      }
    if (auto* links = t.base.if_contains("Links"); links && links->is_object())
      if (auto* ch = links->as_object().if_contains("Chassis"); ch && ch->is_array() &&
                                                                !ch->as_array().empty())
        t.chassis = odata_id(&ch->as_array().front());
    t.has_indicator_led = t.base.contains("IndicatorLED");
    t.has_location_indicator = t.base.contains("LocationIndicatorActive");
    if (auto* actions = t.base.if_contains("Actions"); actions && actions->is_object()) {
      if (auto* r = actions->as_object().if_contains("#ComputerSystem.Reset");
          r && r->is_object()) {
        const auto& ro2 = r->as_object();
        if (auto* tg = ro2.if_contains("target"); tg && tg->is_string())
          t.reset_target = normalize_path(std::string(tg->as_string()));
        if (auto* av = ro2.if_contains("ResetType@Redfish.AllowableValues"); av) {
          t.reset_allowed_source = "inline";
          if (av->is_array())
            for (const auto& v : av->as_array())
              if (v.is_string()) t.reset_allowed.emplace_back(v.as_string());
        } else if (auto* ai = ro2.if_contains("@Redfish.ActionInfo"); ai && ai->is_string()) {
          t.reset_allowed_source = "actioninfo";
          if (auto info = parse_raw(*p, normalize_path(std::string(ai->as_string())))) {
            auto* params =
                info->is_object() ? info->as_object().if_contains("Parameters") : nullptr;
            if (params && params->is_array())
              for (const auto& prm : params->as_array()) {
                if (!prm.is_object()) continue;
                auto* nm = prm.as_object().if_contains("Name");
                if (!nm || !nm->is_string() || nm->as_string() != "ResetType") continue;
                auto* vals = prm.as_object().if_contains("AllowableValues");
                if (vals && vals->is_array())
                  for (const auto& v : vals->as_array())
                    if (v.is_string()) t.reset_allowed.emplace_back(v.as_string());
              }
          }
        }
      }
    }
    if (!t.reset_target.empty() && t.reset_allowed.empty()) {
      // No usable list published: accept the standard set, as a BMC without a list would.
      t.reset_allowed = kAllResetTypes;
      if (t.reset_allowed_source.empty()) t.reset_allowed_source = "default";
    }
    std::size_t idx = p->systems.size();
    p->system_paths[t.path] = idx;
    if (!t.reset_target.empty()) p->reset_targets[t.reset_target] = idx;
    if (!t.oem_button_target.empty()) p->oem_button_targets[t.oem_button_target] = idx;
    if (!t.chassis.empty() && p->raw.count(t.chassis)) p->chassis_paths.emplace(t.chassis, idx);
    p->systems.push_back(std::move(t));
  }
  if (p->systems.empty()) {
    *err = p->name + ": no usable ComputerSystem in " + systems_path;
    return false;
  }
  return true;
}

}  // namespace fleetpower::sim

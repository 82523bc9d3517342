// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/redfish/model.hpp"

#include <boost/json/error.hpp>
#include <boost/json/parser.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace fleetpower::redfish {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

const json::object* as_obj(const json::value* v) { return v ? v->if_object() : nullptr; }

const json::object* get_obj(const json::object& o, std::string_view key) {
  return as_obj(o.if_contains(key));
}

std::string set_err(std::string* err, std::string msg) {
  if (err) *err = msg;
  return msg;
}

std::string last_segment(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

std::string trim_slash(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return std::string(p);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

bool parse_json(std::string_view body, const ParseLimits& lim, json::value& out, std::string* err) {
  if (body.size() > lim.max_bytes) {
    set_err(err, "JSON body too large (" + std::to_string(body.size()) + " bytes)");
    return false;
  }
  json::parse_options opt;
  opt.max_depth = lim.max_depth;
  json::parser p(json::storage_ptr(), opt);
  boost::system::error_code ec;
  p.write(body.data(), body.size(), ec);  // the whole value; trailing junk is an error
  if (ec) {
    set_err(err, "malformed JSON: " + ec.message());
    return false;
  }
  out = p.release();
  return true;
}

std::optional<std::string_view> get_string(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (auto* s = v->if_string()) return std::string_view(s->data(), s->size());
  return std::nullopt;
}

std::optional<std::string> get_link(const json::object& o, std::string_view key) {
  auto* l = get_obj(o, key);
  if (!l) return std::nullopt;
  auto s = get_string(*l, "@odata.id");
  if (!s || s->empty()) return std::nullopt;
  return std::string(*s);
}

bool parse_service_root(const json::value& v, ServiceRoot& out, std::string* err) {
  auto* o = v.if_object();
  if (!o) {
    set_err(err, "service root is not a JSON object");
    return false;
  }
  out = {};
  if (auto s = get_link(*o, "Systems")) out.systems = *s;
  if (auto s = get_link(*o, "Managers")) out.managers = *s;
  if (auto s = get_link(*o, "SessionService")) out.session_service = *s;
  if (auto* links = get_obj(*o, "Links"))
    if (auto s = get_link(*links, "Sessions")) out.sessions = *s;
  if (auto s = get_string(*o, "Vendor")) out.vendor = *s;
  if (auto s = get_string(*o, "Product")) out.product = *s;
  if (auto s = get_string(*o, "RedfishVersion")) out.redfish_version = *s;
  if (auto* oem = get_obj(*o, "Oem"))
    for (auto& kv : *oem) out.oem_keys.emplace_back(kv.key());
  if (out.systems.empty()) {
    set_err(err, "service root has no Systems link");
    return false;
  }
  return true;
}

bool parse_collection(const json::value& v, std::vector<std::string>& members, std::string* err) {
  members.clear();
  auto* o = v.if_object();
  if (!o) {
    set_err(err, "collection is not a JSON object");
    return false;
  }
  auto* m = o->if_contains("Members");
  auto* arr = m ? m->if_array() : nullptr;
  if (!arr) {
    set_err(err, "collection has no Members array");
    return false;
  }
  for (auto& e : *arr) {
    auto* eo = e.if_object();
    if (!eo) continue;
    if (auto s = get_string(*eo, "@odata.id"); s && !s->empty()) members.emplace_back(*s);
  }
  return true;
}

bool select_system(const std::vector<std::string>& members, const std::string* selector,
                   std::string& chosen, std::string* err) {
  if (members.empty()) {
    set_err(err, "the BMC lists no systems");
    return false;
  }
  if (!selector || selector->empty()) {
    if (members.size() == 1) {
      chosen = members.front();
      return true;
    }
    std::string ids;
    for (auto& m : members) ids += (ids.empty() ? "" : ", ") + last_segment(m);
    set_err(err, "the BMC has " + std::to_string(members.size()) +
                     " systems; set the inventory key `system` to one of: " + ids);
    return false;
  }
  const std::string want = trim_slash(*selector);
  for (auto& m : members)
    if (trim_slash(m) == want || last_segment(m) == want) {
      chosen = m;
      return true;
    }
  std::string ids;
  for (auto& m : members) ids += (ids.empty() ? "" : ", ") + last_segment(m);
  set_err(err, "system `" + *selector + "` not found (the BMC has: " + ids + ")");
  return false;
}

const std::vector<std::string_view>& known_reset_types() {
  static const std::vector<std::string_view> k{
      "On",    "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
      "Nmi",   "ForceOn",  "PushPowerButton",  "PowerCycle",      "Suspend",
      "Pause", "Resume",   "FullPowerCycle"};
  return k;
}

std::optional<std::vector<std::string>> clean_reset_list(const json::value& v) {
  auto* arr = v.if_array();
  if (!arr) return std::nullopt;
  std::vector<std::string> out;
  for (auto& e : *arr) {
    auto* s = e.if_string();
    if (!s) continue;
    std::string_view sv(s->data(), s->size());
    // Trim stray whitespace some firmwares leave in enum values.
    while (!sv.empty() && std::isspace(static_cast<unsigned char>(sv.front()))) sv.remove_prefix(1);
    while (!sv.empty() && std::isspace(static_cast<unsigned char>(sv.back()))) sv.remove_suffix(1);
    for (auto k : known_reset_types())
      if (iequals(k, sv) && !contains(out, k)) out.emplace_back(k);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<PowerState> parse_power_state(std::string_view s) {
  if (s == "On") return PowerState::On;
  if (s == "Off") return PowerState::Off;
  if (s == "PoweringOn") return PowerState::PoweringOn;
  if (s == "PoweringOff") return PowerState::PoweringOff;
  if (s == "Paused") return PowerState::On;  // host halted but powered
  return std::nullopt;
}

bool parse_system(const json::value& v, SystemInfo& out, std::string* err) {
  auto* o = v.if_object();
  if (!o) {
    set_err(err, "system resource is not a JSON object");
    return false;
  }
  std::string keep_path = out.path;
  out = {};
  out.path = keep_path;
  if (auto s = get_string(*o, "@odata.id")) out.path = *s;
  if (auto s = get_string(*o, "Id")) out.id = *s;
  if (out.id.empty()) out.id = last_segment(out.path);
  if (auto s = get_string(*o, "PowerState")) {
    out.raw_power_state = *s;
    out.state = parse_power_state(*s).value_or(PowerState::Unknown);
  }
  if (auto* actions = get_obj(*o, "Actions"))
    if (auto* reset = get_obj(*actions, "#ComputerSystem.Reset")) {
      if (auto t = get_string(*reset, "target")) out.reset_target = *t;
      if (auto* lst = reset->if_contains("ResetType@Redfish.AllowableValues")) {
        out.reset_allowed = clean_reset_list(*lst);
        if (!out.reset_allowed) out.reset_list_malformed = true;
      }
      if (auto ai = get_string(*reset, "@Redfish.ActionInfo")) out.reset_action_info = *ai;
    }
  if (auto* boot = get_obj(*o, "Boot")) {
    out.boot.present = true;
    if (auto s = get_string(*boot, "BootSourceOverrideTarget")) out.boot.target = *s;
    if (auto s = get_string(*boot, "BootSourceOverrideEnabled")) out.boot.enabled = *s;
    if (auto s = get_string(*boot, "BootSourceOverrideMode")) out.boot.mode = *s;
    if (auto* a = boot->if_contains("BootSourceOverrideTarget@Redfish.AllowableValues"))
      if (auto* arr = a->if_array())
        for (auto& e : *arr)
          if (auto* s = e.if_string()) out.boot.allowed_targets.emplace_back(s->data(), s->size());
  }
  if (auto s = get_string(*o, "@odata.etag")) out.odata_etag = *s;
  if (auto* st = get_obj(*o, "@Redfish.Settings")) {
    if (auto l = get_link(*st, "SettingsObject")) out.settings_path = *l;
    if (auto s = get_string(*st, "ETag")) out.settings_etag = *s;
  }
  if (auto s = get_string(*o, "IndicatorLED")) out.indicator_led = std::string(*s);
  if (auto* b = o->if_contains("LocationIndicatorActive"))
    if (b->is_bool()) out.location_indicator_active = b->get_bool();
  if (auto* links = get_obj(*o, "Links"))
    if (auto* mb = links->if_contains("ManagedBy"))
      if (auto* arr = mb->if_array())
        for (auto& e : *arr)
          if (auto* eo = e.if_object())
            if (auto s = get_string(*eo, "@odata.id")) out.managed_by.emplace_back(*s);
  if (auto* links = get_obj(*o, "Links"))
    if (auto* ch = links->if_contains("Chassis"))
      if (auto* arr = ch->if_array())
        for (auto& e : *arr)
          if (auto* eo = e.if_object())
            if (auto s = get_string(*eo, "@odata.id"); s && !s->empty())
              out.chassis.emplace_back(*s);
  return true;
}

bool parse_chassis_power_links(const json::value& v, ChassisPowerLinks& out, std::string* err) {
  auto* o = v.if_object();
  if (!o) {
    set_err(err, "chassis resource is not a JSON object");
    return false;
  }
  out = {};
  if (auto s = get_link(*o, "Power")) out.power = *s;
  if (auto s = get_link(*o, "EnvironmentMetrics")) out.environment_metrics = *s;
  if (auto s = get_link(*o, "PowerSubsystem")) out.power_subsystem = *s;
  return true;
}

namespace {
std::optional<double> number_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_double()) return std::isfinite(v->get_double()) ? std::optional<double>(v->get_double()) : std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}
}  // namespace

std::optional<double> parse_power_consumed(const json::value& v, std::string* why) {
  auto* o = v.if_object();
  auto* pc = o ? o->if_contains("PowerControl") : nullptr;
  auto* arr = pc ? pc->if_array() : nullptr;
  if (!arr || arr->empty()) {
    set_err(why, "the Power resource has no PowerControl");
    return std::nullopt;
  }
  for (auto& e : *arr)
    if (auto* eo = e.if_object())
      if (auto w = number_of(eo->if_contains("PowerConsumedWatts")); w && *w >= 0) return w;
  set_err(why, "PowerControl has no PowerConsumedWatts reading");
  return std::nullopt;
}

std::string parse_power_supplies_link(const json::value& v) {
  auto* o = v.if_object();
  if (!o) return {};
  return get_link(*o, "PowerSupplies").value_or("");
}

std::string parse_power_supply_metrics_link(const json::value& v) {
  auto* o = v.if_object();
  if (!o) return {};
  return get_link(*o, "Metrics").value_or("");
}

std::optional<double> parse_psu_input_power(const json::value& v, std::string* why) {
  auto* o = v.if_object();
  auto* iw = o ? get_obj(*o, "InputPowerWatts") : nullptr;
  if (!iw) {
    set_err(why, "a power supply's metrics have no InputPowerWatts");
    return std::nullopt;
  }
  if (auto w = number_of(iw->if_contains("Reading")); w && *w >= 0) return w;
  set_err(why, "a power supply's InputPowerWatts has no Reading");
  return std::nullopt;
}

std::optional<double> parse_environment_power(const json::value& v, std::string* why) {
  auto* o = v.if_object();
  auto* pw = o ? get_obj(*o, "PowerWatts") : nullptr;
  if (!pw) {
    set_err(why, "EnvironmentMetrics has no PowerWatts");
    return std::nullopt;
  }
  if (auto w = number_of(pw->if_contains("Reading")); w && *w >= 0) return w;
  set_err(why, "EnvironmentMetrics PowerWatts has no Reading");
  return std::nullopt;
}

bool parse_reset_action_info(const json::value& v, std::vector<std::string>& allowed,
                             std::string* err) {
  allowed.clear();
  auto* o = v.if_object();
  auto* params = o ? o->if_contains("Parameters") : nullptr;
  auto* arr = params ? params->if_array() : nullptr;
  if (!arr) {
    set_err(err, "ActionInfo has no Parameters array");
    return false;
  }
  for (auto& p : *arr) {
    auto* po = p.if_object();
    if (!po) continue;
    auto name = get_string(*po, "Name");
    if (!name || *name != "ResetType") continue;
    auto* av = po->if_contains("AllowableValues");
    auto cleaned = av ? clean_reset_list(*av) : std::nullopt;
    if (!cleaned) {
      set_err(err, "ActionInfo lists no usable ResetType values");
      return false;
    }
    allowed = std::move(*cleaned);
    return true;
  }
  set_err(err, "ActionInfo has no ResetType parameter");
  return false;
}

namespace {
std::optional<std::string> first_allowed(const std::optional<std::vector<std::string>>& allowed,
                                         std::initializer_list<std::string_view> prefs) {
  if (!allowed) return std::string(*prefs.begin());
  for (auto p : prefs)
    if (contains(*allowed, p)) return std::string(p);
  return std::nullopt;
}
}  // namespace

std::optional<std::string> choose_on_type(const std::optional<std::vector<std::string>>& allowed) {
  return first_allowed(allowed, {"On", "ForceOn"});
}

std::optional<std::string> choose_reset_type(
    Action a, const std::optional<std::vector<std::string>>& allowed) {
  switch (a) {
    case Action::On:
      return first_allowed(allowed, {"On", "ForceOn"});
    case Action::Off:
      return first_allowed(allowed, {"ForceOff"});
    case Action::Soft:
      return first_allowed(allowed, {"GracefulShutdown"});
    case Action::Reset:
      return first_allowed(allowed, {"ForceRestart", "GracefulRestart"});
    case Action::Nmi:
      return first_allowed(allowed, {"Nmi"});
    case Action::Cycle:
      if (allowed && contains(*allowed, "PowerCycle")) return std::string("PowerCycle");
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

namespace {
std::vector<std::string> generic_prefs(Action a) {
  switch (a) {
    case Action::On:
      return {"On", "ForceOn"};
    case Action::Off:
      return {"ForceOff"};
    case Action::Soft:
      return {"GracefulShutdown"};
    case Action::Reset:
      return {"ForceRestart", "GracefulRestart"};
    case Action::Nmi:
      return {"Nmi"};
    case Action::Cycle:
      return {"PowerCycle"};
    default:
      return {};
  }
}

std::vector<std::string> profile_prefs(Action a, const plugin::RedfishProfile& prof) {
  auto it = prof.reset.find(a);
  std::vector<std::string> prefs = it != prof.reset.end() ? it->second : generic_prefs(a);
  std::erase_if(prefs, [&](const std::string& t) {
    return contains(prof.avoid_reset_types, t) ||
           (t == "GracefulRestart" && prof.graceful_restart == plugin::GracefulRestartMode::Unsupported);
  });
  return prefs;
}

std::optional<std::string> first_of(const std::optional<std::vector<std::string>>& allowed,
                                    const std::vector<std::string>& prefs) {
  if (prefs.empty()) return std::nullopt;
  if (!allowed) return prefs.front();
  for (auto& p : prefs)
    if (contains(*allowed, p)) return p;
  return std::nullopt;
}
}  // namespace

std::optional<std::string> choose_reset_type(Action a, const std::optional<std::vector<std::string>>& allowed,
                                             const plugin::RedfishProfile& prof) {
  auto prefs = profile_prefs(a, prof);
  if (a == Action::Cycle) {
    switch (prof.cycle) {
      case plugin::CycleMode::OffWaitOn:
        return std::nullopt;
      case plugin::CycleMode::PowerCycle:
        if (prefs.empty()) return std::nullopt;
        return prefs.front();
      case plugin::CycleMode::Auto:
        if (!allowed) return std::nullopt;  // unknown list: emulate, the safe way
        return first_of(allowed, prefs);
    }
  }
  return first_of(allowed, prefs);
}

std::optional<std::string> choose_on_type(const std::optional<std::vector<std::string>>& allowed,
                                          const plugin::RedfishProfile& prof) {
  return choose_reset_type(Action::On, allowed, prof);
}

bool is_success_envelope(std::string_view body, const ParseLimits& lim) {
  json::value v;
  if (body.empty() || !parse_json(body, lim, v, nullptr)) return false;
  auto* o = v.if_object();
  auto* e = o ? get_obj(*o, "error") : nullptr;
  if (!e) return false;
  auto* ei = e->if_contains("@Message.ExtendedInfo");
  auto* arr = ei ? ei->if_array() : nullptr;
  if (!arr || arr->empty()) return false;
  for (auto& m : *arr) {
    auto* mo = m.if_object();
    auto id = mo ? get_string(*mo, "MessageId") : std::nullopt;
    if (!id) return false;
    auto dot = id->rfind('.');
    std::string_view last = dot == std::string_view::npos ? *id : id->substr(dot + 1);
    if (last != "Success") return false;
  }
  return true;
}

std::string_view boot_target_name(BootDevice d) {
  switch (d) {
    case BootDevice::Pxe:
      return "Pxe";
    case BootDevice::Disk:
      return "Hdd";
    case BootDevice::Bios:
      return "BiosSetup";
    case BootDevice::Cdrom:
      return "Cd";
    case BootDevice::None:
      break;
  }
  return "None";
}

bool parse_manager(const json::value& v, ManagerInfo& out, std::string* err) {
  auto* o = v.if_object();
  if (!o) {
    set_err(err, "manager resource is not a JSON object");
    return false;
  }
  out = {};
  if (auto s = get_string(*o, "Model")) out.model = *s;
  if (auto s = get_string(*o, "FirmwareVersion")) out.firmware = *s;
  if (auto s = get_string(*o, "Manufacturer")) out.manufacturer = *s;
  if (auto s = get_string(*o, "ManagerType")) out.manager_type = *s;
  return true;
}

std::string detect_vendor(const ServiceRoot& root, const ManagerInfo* mgr) {
  struct Rule {
    std::string_view needle, vendor;
  };
  static constexpr Rule kRules[] = {
      {"hpe", "hpe"},
      {"hewlett", "hpe"},
      {"ilo", "hpe"},
      {"proliant", "hpe"},
      {"dell", "dell"},
      {"idrac", "dell"},
      {"lenovo", "lenovo"},
      {"xclarity", "lenovo"},
      {"thinksystem", "lenovo"},
      {"supermicro", "supermicro"},
      {"openbmc", "openbmc"},
      {"ami", "ami"},
      {"fujitsu", "fujitsu"},
      {"irmc", "fujitsu"},
      {"cisco", "cisco"},
      {"huawei", "huawei"},
      {"inspur", "inspur"},
      {"gigabyte", "gigabyte"},
  };
  auto match = [](std::string_view text, bool exact) -> std::string {
    if (text.empty()) return {};
    for (auto& r : kRules) {
      // Short needles ("ami", "ilo", "hpe") only as a whole word to avoid false hits.
      if (exact || r.needle.size() <= 3 ? iequals(text, r.needle) : icontains(text, r.needle))
        return std::string(r.vendor);
    }
    return {};
  };
  if (auto v = match(root.vendor, false); !v.empty()) return v;
  if (auto v = match(root.vendor, true); !v.empty()) return v;
  for (auto& k : root.oem_keys) {
    if (iequals(k, "Hp") || iequals(k, "Hpe")) return "hpe";
    if (auto v = match(k, false); !v.empty()) return v;
    if (auto v = match(k, true); !v.empty()) return v;
  }
  if (auto v = match(root.product, false); !v.empty()) return v;
  if (mgr) {
    if (auto v = match(mgr->manufacturer, false); !v.empty()) return v;
    if (auto v = match(mgr->model, false); !v.empty()) return v;
    // "iLO 5", "iDRAC": the model starts with the short word.
    std::string_view m = mgr->model;
    auto sp = m.find(' ');
    if (auto v = match(m.substr(0, sp), true); !v.empty()) return v;
  }
  if (!root.vendor.empty()) {
    std::string v;
    for (char c : root.vendor)
      if (std::isalnum(static_cast<unsigned char>(c)))
        v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!v.empty()) return v;
  }
  return "generic";
}

std::string error_message(std::string_view body, const ParseLimits& lim) {
  json::value v;
  if (body.empty() || !parse_json(body, lim, v, nullptr)) return {};
  auto* o = v.if_object();
  if (!o) return {};
  auto from_info = [](const json::object& obj) -> std::string {
    std::string out;
    auto* ei = obj.if_contains("@Message.ExtendedInfo");
    auto* arr = ei ? ei->if_array() : nullptr;
    if (!arr) return out;
    for (auto& m : *arr) {
      auto* mo = m.if_object();
      if (!mo) continue;
      auto msg = get_string(*mo, "Message");
      if (!msg || msg->empty()) continue;
      if (!out.empty()) out += "; ";
      out += *msg;
      if (out.size() > 400) break;
    }
    return out;
  };
  if (auto* e = get_obj(*o, "error")) {
    if (auto s = from_info(*e); !s.empty()) return s;
    if (auto s = get_string(*e, "message"); s && !s->empty()) return std::string(*s);
  }
  return from_info(*o);
}

bool parse_task(const json::value& v, TaskInfo& out) {
  auto* o = v.if_object();
  if (!o) return false;
  out = {};
  if (auto s = get_string(*o, "TaskState")) out.state = *s;
  if (auto s = get_string(*o, "TaskStatus")) out.status = *s;
  if (auto* m = o->if_contains("Messages"))
    if (auto* arr = m->if_array())
      for (auto& e : *arr)
        if (auto* eo = e.if_object())
          if (auto s = get_string(*eo, "Message"); s && !s->empty()) {
            out.message = *s;
            break;
          }
  return !out.state.empty();
}

std::optional<std::string> normalize_fingerprint(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  for (std::string_view pre : {"sha256:", "sha256=", "sha-256:", "sha256 "})
    if (s.size() > pre.size() && iequals(s.substr(0, pre.size()), pre)) {
      s.remove_prefix(pre.size());
      break;
    }
  std::string out;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (c != ':' && c != ' ' && c != '-')
      return std::nullopt;
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

std::string format_fingerprint(const unsigned char* digest, std::size_t n) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ':';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::optional<int> parse_retry_after(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace fleetpower::redfish

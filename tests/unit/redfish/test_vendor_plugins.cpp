// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in vendor plugins (plugins/<name>/profile.yaml) against the vendor trees in
// ../shared/redfish-mockups (read in place, never copied; $FLEETPOWER_MOCKUPS overrides):
// auto-detection picks the right plugin from each tree's service root and Manager, and each
// profile's paths, ResetType choices and boot flags agree with what that tree publishes.
#include <catch2/catch.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "mockups.hpp"
#include "plugin/registry.hpp"
#include "transport/redfish/model.hpp"

using namespace fleetpower;
using namespace fleetpower::redfish;
namespace fs = std::filesystem;

namespace {

/// A vendor tree, short form (<path>/index.json) or a folder of loose fixtures (each file served
/// at its @odata.id; first file in sorted order wins), as fleetpower-sim reads it.
struct Tree {
  std::map<std::string, json::value> res;
  const json::value* get(std::string p) const {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto it = res.find(p);
    return it == res.end() ? nullptr : &it->second;
  }
};

void add_fixtures(Tree& t, const std::string& dir) {
  std::vector<fs::path> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    auto text = fptest::read_text(f.string());
    json::value v;
    if (!text || !parse_json(*text, ParseLimits{}, v, nullptr) || !v.is_object()) continue;
    auto id = get_string(v.as_object(), "@odata.id");
    if (!id) continue;
    std::string p(*id);
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    t.res.emplace(p, std::move(v));
  }
}

Tree load(const std::vector<std::string>& dirs) {
  Tree t;
  for (auto& d : dirs) {
    std::string dir = fptest::mockup_root() + "/" + d;
    if (!fs::exists(dir + "/index.json")) {
      add_fixtures(t, dir);
      continue;
    }
    for (auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename() != "index.json") continue;
      auto rel = fs::relative(e.path().parent_path(), dir).generic_string();
      std::string p = "/redfish/v1" + (rel == "." ? std::string() : "/" + rel);
      auto text = fptest::read_text(e.path().string());
      json::value v;
      if (text && parse_json(*text, ParseLimits{}, v, nullptr)) t.res.emplace(p, std::move(v));
    }
  }
  return t;
}

struct Seen {
  plugin::RedfishIdentity id;
  std::string system_path;
  SystemInfo sys;
  std::optional<std::vector<std::string>> allowed;
};

/// What the engine learns from a tree: service root, first system, its reset list (inline or
/// ActionInfo), the Manager that manages it.
Seen discover(const Tree& t) {
  Seen s;
  const json::value* rootv = t.get("/redfish/v1");
  REQUIRE(rootv);
  ServiceRoot root;
  REQUIRE(parse_service_root(*rootv, root, nullptr));
  s.id.vendor = root.vendor;
  s.id.product = root.product;
  s.id.oem_keys = root.oem_keys;
  const json::value* coll = t.get(root.systems);
  REQUIRE(coll);
  std::vector<std::string> members;
  REQUIRE(parse_collection(*coll, members, nullptr));
  REQUIRE(!members.empty());
  s.system_path = members.front();
  const json::value* sysv = t.get(s.system_path);
  REQUIRE(sysv);
  REQUIRE(parse_system(*sysv, s.sys, nullptr));
  s.allowed = s.sys.reset_allowed;
  if (!s.allowed && !s.sys.reset_action_info.empty())
    if (const json::value* ai = t.get(s.sys.reset_action_info)) {
      std::vector<std::string> a;
      if (parse_reset_action_info(*ai, a, nullptr)) s.allowed = a;
    }
  std::string mgr = s.sys.managed_by.empty() ? std::string() : s.sys.managed_by.front();
  if (const json::value* mv = mgr.empty() ? nullptr : t.get(mgr)) {
    ManagerInfo m;
    REQUIRE(parse_manager(*mv, m, nullptr));
    s.id.manager_model = m.model;
    s.id.manager_firmware = m.firmware;
    s.id.manager_manufacturer = m.manufacturer;
    s.id.have_manager = true;
  }
  return s;
}

const plugin::Registry& registry() {
  static plugin::Registry r = [] {
    plugin::Registry x;
    std::vector<Diagnostic> d;
    bool ok = x.load_builtin(&d);
    for (auto& e : d) WARN(e.str());
    REQUIRE(ok);
    return x;
  }();
  return r;
}

const plugin::Plugin& named(const char* n) {
  const plugin::Plugin* p = registry().find(n);
  INFO(n);
  REQUIRE(p);
  return *p;
}

/// The ResetType a profile sends for an action given the BMC's list, per plugins/README.md:
/// the first preference the list contains, avoided types removed; no list (or the profile
/// distrusts it): the first preference.
std::optional<std::string> chosen(const plugin::RedfishProfile& prof, Action a,
                                  const std::optional<std::vector<std::string>>& allowed) {
  // Actions a profile does not list keep the generic order (plugins/generic-redfish).
  static const std::map<Action, std::vector<std::string>> generic{
      {Action::On, {"On", "ForceOn"}},
      {Action::Off, {"ForceOff"}},
      {Action::Soft, {"GracefulShutdown"}},
      {Action::Reset, {"ForceRestart", "GracefulRestart"}},
      {Action::Nmi, {"Nmi"}},
      {Action::Cycle, {"PowerCycle"}}};
  auto it = prof.reset.find(a);
  const auto& prefs = it != prof.reset.end() ? it->second : generic.at(a);
  for (auto& t : prefs) {
    if (std::find(prof.avoid_reset_types.begin(), prof.avoid_reset_types.end(), t) !=
        prof.avoid_reset_types.end())
      continue;
    if (!allowed || prof.ignore_allowed_values ||
        std::find(allowed->begin(), allowed->end(), t) != allowed->end())
      return t;
  }
  return std::nullopt;
}

bool has(const std::optional<std::vector<std::string>>& l, std::string_view v) {
  return l && std::find(l->begin(), l->end(), v) != l->end();
}

}  // namespace

TEST_CASE("vendor plugins: every built-in profile loads, API version 1") {
  for (const char* n : {"dell-idrac", "hpe-ilo", "supermicro", "lenovo-xcc", "openbmc",
                        "ami-megarac", "hpe-cray-ex"}) {
    const auto& p = named(n);
    CHECK(p.desc.api_version == 1);
    CHECK(p.desc.applies_to(plugin::Transport::Redfish));
    CHECK(!p.desc.match.empty());
  }
}

TEST_CASE("vendor plugins: Dell iDRAC trees") {
  FP_REQUIRE_MOCKUPS();
  {
    // The R640 samples have no Systems collection: recognition from the root alone (no Vendor,
    // Oem.Dell and the Product name).
    Tree t = load({"sushy-oem-idrac-json_samples"});
    ServiceRoot root;
    REQUIRE(t.get("/redfish/v1"));
    REQUIRE(parse_service_root(*t.get("/redfish/v1"), root, nullptr));
    CHECK(root.vendor.empty());
    plugin::RedfishIdentity id;
    id.product = root.product;
    id.oem_keys = root.oem_keys;
    CHECK(registry().detect(id)->desc.name == "dell-idrac");
  }
  for (auto dirs : {std::vector<std::string>{"bmclib-dell-idrac", "sushy-oem-idrac-json_samples"}}) {
    Tree t = load(dirs);
    Seen s = discover(t);
    const plugin::Plugin* p = registry().detect(s.id);
    REQUIRE(p);
    CHECK(p->desc.name == "dell-idrac");
    const auto& prof = p->profile.redfish;
    CHECK(prof.system_path == s.system_path);
    CHECK(t.get(prof.manager_path));
    // The tree advertises GracefulRestart; the profile never sends it (hard reset on some
    // firmware) and emulates an OS restart.
    CHECK(has(s.allowed, "GracefulRestart"));
    CHECK(chosen(prof, Action::Reset, s.allowed) == "ForceRestart");
    CHECK(prof.graceful_restart == plugin::GracefulRestartMode::ShutdownWaitOn);
    CHECK(chosen(prof, Action::Off, s.allowed) == "ForceOff");
    CHECK(chosen(prof, Action::Cycle, s.allowed) == "PowerCycle");
  }
  CHECK(registry().detect(plugin::IpmiIdentity{674, 256})->desc.name == "dell-idrac");
}

TEST_CASE("vendor plugins: HPE iLO 5 (DL325)") {
  FP_REQUIRE_MOCKUPS();
  Tree t = load({"csm-DL325"});
  Seen s = discover(t);
  CHECK(s.id.manager_model == "iLO 5");
  const plugin::Plugin* p = registry().detect(s.id);
  REQUIRE(p);
  CHECK(p->desc.name == "hpe-ilo");
  const auto& prof = p->profile.redfish;
  CHECK(prof.system_path == s.system_path);
  CHECK(prof.success_in_error_envelope);
  CHECK(!has(s.allowed, "PowerCycle"));  // cycle is emulated
  CHECK(!chosen(prof, Action::Cycle, s.allowed));
  CHECK(prof.cycle == plugin::CycleMode::Auto);
  CHECK(chosen(prof, Action::Soft, s.allowed) == "GracefulShutdown");
  CHECK(chosen(prof, Action::Soft, std::vector<std::string>{"On", "ForceOff", "PushPowerButton"}) ==
        "PushPowerButton");
  // The OEM power button the profile names exists in the capture.
  const json::value* sys = t.get(s.system_path);
  REQUIRE(sys);
  CHECK(json::serialize(*sys).find("HpeComputerSystemExt.PowerButton") != std::string::npos);
  // iLO 4 and iLO 6 by Manager model alone.
  for (const char* m : {"iLO 4", "iLO 6"}) {
    plugin::RedfishIdentity id;
    id.manager_model = m;
    id.have_manager = true;
    CHECK(registry().detect(id)->desc.name == "hpe-ilo");
  }
  CHECK(registry().detect(plugin::IpmiIdentity{11, 8192})->desc.name == "hpe-ilo");
}

TEST_CASE("vendor plugins: Lenovo XCC (SR650)") {
  FP_REQUIRE_MOCKUPS();
  Tree t = load({"bmclib-lenovo-xcc"});
  Seen s = discover(t);
  const plugin::Plugin* p = registry().detect(s.id);
  REQUIRE(p);
  CHECK(p->desc.name == "lenovo-xcc");
  const auto& prof = p->profile.redfish;
  CHECK(prof.system_path == s.system_path);
  CHECK(!has(s.allowed, "PushPowerButton"));
  CHECK(std::find(prof.avoid_reset_types.begin(), prof.avoid_reset_types.end(),
                  "PushPowerButton") != prof.avoid_reset_types.end());
  // The tree's BootSourceOverrideEnabled list has no Continuous; the profile says so.
  const json::value* sys = t.get(s.system_path);
  REQUIRE(sys);
  auto* en = sys->as_object().at("Boot").as_object().if_contains(
      "BootSourceOverrideEnabled@Redfish.AllowableValues");
  REQUIRE(en);
  CHECK(json::serialize(*en).find("Continuous") == std::string::npos);
  CHECK(!prof.boot.continuous);
  CHECK(chosen(prof, Action::On, s.allowed) == "On");
  CHECK(!chosen(prof, Action::Cycle, s.allowed));  // emulated: no PowerCycle
  CHECK(registry().detect(plugin::IpmiIdentity{19046, 1})->desc.name == "lenovo-xcc");
}

TEST_CASE("vendor plugins: OpenBMC (bmcweb 2.15)") {
  FP_REQUIRE_MOCKUPS();
  Tree t = load({"csm-OpenBMC-stock"});
  Seen s = discover(t);
  CHECK(s.id.vendor.empty());  // recognised by the Manager
  const plugin::Plugin* p = registry().detect(s.id);
  REQUIRE(p);
  CHECK(p->desc.name == "openbmc");
  const auto& prof = p->profile.redfish;
  CHECK(prof.system_path == s.system_path);
  CHECK(t.get(prof.manager_path));
  CHECK(s.sys.reset_allowed == std::nullopt);  // ActionInfo only
  CHECK(!has(s.allowed, "PushPowerButton"));
  CHECK(chosen(prof, Action::Cycle, s.allowed) == "PowerCycle");
  CHECK(chosen(prof, Action::Soft, s.allowed) == "GracefulShutdown");
}

TEST_CASE("vendor plugins: generic trees stay generic") {
  FP_REQUIRE_MOCKUPS();
  for (const char* d : {"dmtf-public-rackmount1", "dmtf-public-bladed"}) {
    Seen s = discover(load({d}));
    const plugin::Plugin* p = registry().detect(s.id);
    REQUIRE(p);
    CHECK(p->desc.name == "generic-redfish");
  }
}

TEST_CASE("vendor plugins: Supermicro, AMI, Cray EX (identities of the simulator's trees)") {
  // No capture of these is shared; the identities are those fleetpower-sim's personalities
  // serve (DMTF trees with the vendor's fields set, see tests/sim/README.md).
  plugin::RedfishIdentity smc;
  smc.vendor = "Supermicro";
  smc.oem_keys = {"Supermicro"};
  const plugin::Plugin* p = registry().detect(smc);
  REQUIRE(p);
  CHECK(p->desc.name == "supermicro");
  CHECK(p->profile.redfish.ignore_allowed_values);
  CHECK(p->profile.redfish.boot.echo_mode);
  CHECK(p->profile.redfish.cycle == plugin::CycleMode::OffWaitOn);
  CHECK(registry().detect(plugin::IpmiIdentity{10876, 2081})->desc.name == "supermicro");

  plugin::RedfishIdentity ami;
  ami.vendor = "AMI";
  ami.oem_keys = {"Ami"};
  p = registry().detect(ami);
  REQUIRE(p);
  CHECK(p->desc.name == "ami-megarac");
  CHECK(p->profile.redfish.system_path == "/redfish/v1/Systems/Self");
  CHECK(p->profile.redfish.boot.settings == plugin::SettingsMode::Always);
  CHECK(registry().detect(plugin::IpmiIdentity{20974, 1})->desc.name == "ami-megarac");

  plugin::RedfishIdentity cray;
  cray.manager_manufacturer = "HPE";
  cray.manager_model = "HPE Cray EX nC";
  cray.have_manager = true;
  p = registry().detect(cray);
  REQUIRE(p);
  CHECK(p->desc.name == "hpe-cray-ex");  // not hpe-ilo: higher priority, manager rule
  const auto& prof = p->profile.redfish;
  CHECK(!prof.boot.supported);
  CHECK(prof.cycle == plugin::CycleMode::OffWaitOn);
  const std::vector<std::string> ex_list{"On", "ForceOff", "Off"};  // BardPeak ResetActionInfo
  CHECK(chosen(prof, Action::Soft, ex_list) == "Off");
  CHECK(chosen(prof, Action::Off, ex_list) == "ForceOff");
  CHECK(!p->desc.applies_to(plugin::Transport::Ipmi));
}

// SPDX-License-Identifier: GPL-3.0-or-later
// Parsing and discovery decisions against the real vendor trees and synthetic bad input.
#include <catch2/catch.hpp>

#include "mockups.hpp"
#include "transport/redfish/model.hpp"

using namespace fleetpower;
using namespace fleetpower::redfish;

namespace {
json::value must_parse(const std::optional<std::string>& text) {
  REQUIRE(text.has_value());
  json::value v;
  std::string err;
  INFO(err);
  REQUIRE(parse_json(*text, ParseLimits{}, v, &err));
  return v;
}

struct Discovered {
  ServiceRoot root;
  std::vector<std::string> systems;
  std::vector<SystemInfo> infos;
};

/// Walks a short-form tree the way the engine does: root -> Systems -> each system.
Discovered discover(const std::string& tree) {
  Discovered d;
  std::string err;
  auto rv = must_parse(fptest::tree_get(tree, "/redfish/v1/"));
  REQUIRE(parse_service_root(rv, d.root, &err));
  auto cv = must_parse(fptest::tree_get(tree, d.root.systems));
  REQUIRE(parse_collection(cv, d.systems, &err));
  for (auto& p : d.systems) {
    SystemInfo s;
    s.path = p;
    REQUIRE(parse_system(must_parse(fptest::tree_get(tree, p)), s, &err));
    if (!s.reset_allowed && !s.reset_action_info.empty()) {
      std::vector<std::string> allowed;
      REQUIRE(parse_reset_action_info(must_parse(fptest::tree_get(tree, s.reset_action_info)),
                                      allowed, &err));
      s.reset_allowed = allowed;
    }
    d.infos.push_back(s);
  }
  return d;
}
}  // namespace

TEST_CASE("parse_json enforces size, depth and syntax without throwing", "[redfish][json]") {
  json::value v;
  std::string err;
  ParseLimits lim;
  lim.max_depth = 8;
  CHECK(parse_json(R"({"a":[1,2,{"b":null}]})", lim, v, &err));
  CHECK_FALSE(parse_json(std::string(20, '[') + std::string(20, ']'), lim, v, &err));
  CHECK(err.find("malformed JSON") != std::string::npos);
  CHECK_FALSE(parse_json(R"({"a":1)", lim, v, &err));
  CHECK_FALSE(parse_json(R"({"a":1} trailing)", lim, v, &err));
  CHECK_FALSE(parse_json("", lim, v, &err));
  CHECK_FALSE(parse_json("<html>Service Unavailable</html>", lim, v, &err));
  lim.max_bytes = 10;
  CHECK_FALSE(parse_json(R"({"aaaaaaaaaa":1})", lim, v, &err));
  CHECK(err.find("too large") != std::string::npos);
}

TEST_CASE("DMTF rackmount: discovery from the service root", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  auto d = discover("dmtf-public-rackmount1");
  CHECK(d.root.systems == "/redfish/v1/Systems");
  CHECK(d.root.sessions == "/redfish/v1/SessionService/Sessions");
  REQUIRE(d.systems.size() == 1);
  auto& s = d.infos[0];
  CHECK(s.id == "437XR1138R2");
  CHECK(s.state == PowerState::On);
  CHECK(s.reset_target == "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset");
  REQUIRE(s.reset_allowed);
  CHECK(choose_reset_type(Action::On, s.reset_allowed) == "On");
  CHECK(choose_reset_type(Action::Reset, s.reset_allowed) == "ForceRestart");
  CHECK(choose_reset_type(Action::Nmi, s.reset_allowed) == "Nmi");
  // No PowerCycle in this tree: cycle is emulated.
  CHECK_FALSE(choose_reset_type(Action::Cycle, s.reset_allowed));
  CHECK(s.boot.present);
  CHECK(s.boot.mode == "UEFI");
  CHECK(std::find(s.boot.allowed_targets.begin(), s.boot.allowed_targets.end(), "Pxe") !=
        s.boot.allowed_targets.end());
  CHECK(s.indicator_led == "Off");
  CHECK(detect_vendor(d.root, nullptr) == "generic");
}

TEST_CASE("DMTF bladed: several systems need the `system` selector", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  auto d = discover("dmtf-public-bladed");
  REQUIRE(d.systems.size() == 4);
  std::string chosen, err;
  CHECK_FALSE(select_system(d.systems, nullptr, chosen, &err));
  CHECK(err.find("529QB9451R6") != std::string::npos);
  std::string by_id = "529QB9452R6";
  REQUIRE(select_system(d.systems, &by_id, chosen, &err));
  CHECK(chosen == "/redfish/v1/Systems/529QB9452R6");
  std::string by_path = "/redfish/v1/Systems/529QB9453R6/";
  REQUIRE(select_system(d.systems, &by_path, chosen, &err));
  CHECK(chosen == "/redfish/v1/Systems/529QB9453R6");
  std::string bad = "nope";
  CHECK_FALSE(select_system(d.systems, &bad, chosen, &err));
  CHECK(err.find("not found") != std::string::npos);
}

TEST_CASE("OpenBMC: reset types only through @Redfish.ActionInfo", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  auto rv = must_parse(fptest::tree_get("csm-OpenBMC-stock", "/redfish/v1/Systems/system"));
  SystemInfo s;
  REQUIRE(parse_system(rv, s, nullptr));
  CHECK_FALSE(s.reset_allowed);  // not inline
  CHECK(s.reset_action_info == "/redfish/v1/Systems/system/ResetActionInfo");
  CHECK(s.state == PowerState::Off);
  CHECK(s.location_indicator_active == false);
  auto d = discover("csm-OpenBMC-stock");
  REQUIRE(d.infos.size() == 1);
  CHECK(choose_reset_type(Action::Cycle, d.infos[0].reset_allowed) == "PowerCycle");
  CHECK(choose_reset_type(Action::Reset, d.infos[0].reset_allowed) == "ForceRestart");
  CHECK(d.root.redfish_version == "1.17.0");
}

TEST_CASE("HPE DL325 (iLO 5): vendor from the root, firmware from the manager",
          "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  auto d = discover("csm-DL325");
  REQUIRE(d.infos.size() == 1);
  CHECK(d.infos[0].id == "1");
  CHECK(d.root.vendor == "HPE");
  REQUIRE_FALSE(d.infos[0].managed_by.empty());
  ManagerInfo m;
  REQUIRE(parse_manager(must_parse(fptest::tree_get("csm-DL325", d.infos[0].managed_by[0])), m,
                        nullptr));
  CHECK_FALSE(m.firmware.empty());
  CHECK(detect_vendor(d.root, &m) == "hpe");
  // No PowerCycle, GracefulRestart present: reset prefers ForceRestart.
  CHECK(choose_reset_type(Action::Reset, d.infos[0].reset_allowed) == "ForceRestart");
}

TEST_CASE("Dell and Lenovo captures: vendor detection and system ids", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  ServiceRoot r;
  REQUIRE(parse_service_root(must_parse(fptest::mockup("bmclib-dell-idrac/serviceroot.json")), r,
                             nullptr));
  CHECK(detect_vendor(r, nullptr) == "dell");
  // Old iDRAC: no Vendor key; Oem and Product tell.
  REQUIRE(parse_service_root(must_parse(fptest::mockup("sushy-oem-idrac-json_samples/root.json")),
                             r, nullptr));
  CHECK(r.vendor.empty());
  CHECK(detect_vendor(r, nullptr) == "dell");
  CHECK(r.sessions == "/redfish/v1/Sessions");
  REQUIRE(parse_service_root(must_parse(fptest::mockup("bmclib-lenovo-xcc/v1/serviceroot.json")), r,
                             nullptr));
  CHECK(detect_vendor(r, nullptr) == "lenovo");

  SystemInfo s;
  REQUIRE(parse_system(must_parse(fptest::mockup("bmclib-dell-idrac/systems_embedded.1.json")), s,
                       nullptr));
  CHECK(s.id == "System.Embedded.1");
  CHECK(s.reset_target == "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset");
  REQUIRE(s.reset_allowed);
  REQUIRE(parse_system(must_parse(fptest::mockup("bmclib-lenovo-xcc/v1/system.lenovo.json")), s,
                       nullptr));
  CHECK(s.boot.mode == "Legacy");
  REQUIRE(s.reset_allowed);
  CHECK_FALSE(choose_reset_type(Action::Cycle, s.reset_allowed));  // no PowerCycle on XCC
  ManagerInfo m;
  REQUIRE(parse_manager(must_parse(fptest::mockup("sushy-oem-idrac-json_samples/manager.json")), m,
                        nullptr));
  CHECK_FALSE(m.firmware.empty());
}

TEST_CASE("every shared tree's systems parse with a reset target", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  for (const char* tree :
       {"dmtf-public-rackmount1", "dmtf-public-bladed", "csm-DL325", "csm-OpenBMC-stock"}) {
    INFO(tree);
    auto d = discover(tree);
    REQUIRE_FALSE(d.infos.empty());
    for (auto& s : d.infos) {
      CHECK_FALSE(s.reset_target.empty());
      REQUIRE(s.reset_allowed);
      CHECK(choose_reset_type(Action::Off, s.reset_allowed) == "ForceOff");
      CHECK(choose_reset_type(Action::On, s.reset_allowed).has_value());
      CHECK(s.state != PowerState::Unknown);
    }
  }
}

TEST_CASE("malformed allowable-value lists are not trusted", "[redfish][reset]") {
  auto lst = [](const char* text) {
    json::value v;
    REQUIRE(parse_json(text, ParseLimits{}, v, nullptr));
    return clean_reset_list(v);
  };
  CHECK_FALSE(lst(R"("On,ForceOff")"));  // a string, not an array
  CHECK_FALSE(lst(R"([])"));
  CHECK_FALSE(lst(R"([1, null, {"x":1}, "Explode"])"));
  auto mixed = lst(R"(["forceoff", " On ", 7, "ForceOff", "Bogus"])");
  REQUIRE(mixed);
  CHECK(*mixed == std::vector<std::string>{"ForceOff", "On"});

  json::value sys;
  REQUIRE(parse_json(R"({"@odata.id":"/redfish/v1/Systems/1","PowerState":"On",
      "Actions":{"#ComputerSystem.Reset":{"target":"/r","ResetType@Redfish.AllowableValues":"On"}}})",
                     ParseLimits{}, sys, nullptr));
  SystemInfo s;
  REQUIRE(parse_system(sys, s, nullptr));
  CHECK(s.reset_list_malformed);
  CHECK_FALSE(s.reset_allowed);
  // Unknown list: the first preference is sent and the BMC decides.
  CHECK(choose_reset_type(Action::On, s.reset_allowed) == "On");
  CHECK_FALSE(choose_reset_type(Action::Cycle, s.reset_allowed));

  std::vector<std::string> allowed;
  json::value ai;
  REQUIRE(parse_json(R"({"Parameters":[{"Name":"ResetType","AllowableValues":"garbage"}]})",
                     ParseLimits{}, ai, nullptr));
  CHECK_FALSE(parse_reset_action_info(ai, allowed, nullptr));
}

TEST_CASE("reset type preferences", "[redfish][reset]") {
  using L = std::optional<std::vector<std::string>>;
  CHECK(choose_reset_type(Action::On, L{{"ForceOn", "ForceOff"}}) == "ForceOn");
  CHECK_FALSE(choose_reset_type(Action::On, L{{"ForceOff"}}));
  CHECK(choose_reset_type(Action::Reset, L{{"GracefulRestart", "ForceOff"}}) == "GracefulRestart");
  CHECK_FALSE(choose_reset_type(Action::Nmi, L{{"On", "ForceOff"}}));
  CHECK(choose_reset_type(Action::Soft, L{{"GracefulShutdown"}}) == "GracefulShutdown");
  CHECK(choose_reset_type(Action::Cycle, L{{"PowerCycle"}}) == "PowerCycle");
  CHECK(choose_on_type(L{{"ForceOn"}}) == "ForceOn");
}

TEST_CASE("power states", "[redfish]") {
  CHECK(parse_power_state("PoweringOn") == PowerState::PoweringOn);
  CHECK(parse_power_state("PoweringOff") == PowerState::PoweringOff);
  CHECK(parse_power_state("Off") == PowerState::Off);
  CHECK_FALSE(parse_power_state("on"));
}

TEST_CASE("error bodies: @Message.ExtendedInfo messages are surfaced", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  auto body = fptest::mockup("sushy-json_samples/error.json");
  REQUIRE(body);
  auto msg = error_message(*body, ParseLimits{});
  CHECK(msg.find("The value Red for the property IndicatorLED is not in the list") !=
        std::string::npos);
  CHECK(msg.find("read only") != std::string::npos);
  CHECK(error_message("not json", ParseLimits{}).empty());
  CHECK(error_message(R"({"error":{"message":"plain"}})", ParseLimits{}) == "plain");
  CHECK(error_message(R"({"@Message.ExtendedInfo":[{"Message":"top level"}]})", ParseLimits{}) ==
        "top level");
}

TEST_CASE("tasks and @Redfish.Settings from the sushy samples", "[redfish][mockup]") {
  FP_REQUIRE_MOCKUPS();
  TaskInfo t;
  REQUIRE(parse_task(must_parse(fptest::mockup("sushy-json_samples/task.json")), t));
  CHECK_FALSE(t.state.empty());
  REQUIRE(parse_task(must_parse(fptest::mockup("sushy-json_samples/task_monitor.json")), t));
  CHECK(t.state == "Completed");
  SystemInfo s;
  REQUIRE(parse_system(must_parse(fptest::mockup("sushy-json_samples/settings.json")), s, nullptr));
  CHECK(s.settings_path == "/redfish/v1/Systems/437XR1138R2/BIOS/Settings");
  CHECK(s.settings_etag == "9234ac83b9700123cc32");
}

TEST_CASE("TLS fingerprints in common formats", "[redfish][tls]") {
  const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  CHECK(normalize_fingerprint(hex) == hex);
  std::string colons;
  for (std::size_t i = 0; i < hex.size(); i += 2) colons += (i ? ":" : "") + hex.substr(i, 2);
  for (auto& c : colons) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(normalize_fingerprint(colons) == hex);
  CHECK(normalize_fingerprint("SHA256:" + colons) == hex);
  CHECK(normalize_fingerprint("sha256=" + hex) == hex);
  CHECK_FALSE(normalize_fingerprint(hex.substr(2)));
  CHECK_FALSE(normalize_fingerprint(hex.substr(1) + "g"));
  unsigned char d[3] = {0x0a, 0xff, 0x10};
  CHECK(format_fingerprint(d, 3) == "0A:FF:10");
}

TEST_CASE("Retry-After", "[redfish]") {
  CHECK(parse_retry_after("5") == 5);
  CHECK(parse_retry_after(" 0 ") == 0);
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  CHECK_FALSE(parse_retry_after("-3"));
}

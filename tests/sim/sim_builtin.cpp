// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: the built-in personalities, written for this project so the demo and the
// tests run without any external mockup data.
//   rackmount: a 1U server, one System ("1"), Reset values inline, IndicatorLED.
//   blade:     an enclosure manager with four blade Systems (Node1..Node4), Reset values only
//              through @Redfish.ActionInfo (no PowerCycle, no GracefulRestart),
//              LocationIndicatorActive instead of IndicatorLED.
#include "sim.hpp"

namespace fleetpower::sim {

namespace json = boost::json;

namespace {


json::object collection(const std::string& path, const std::string& type, const std::string& name,
                        const std::vector<std::string>& members) {
  json::array m;
  for (const auto& s : members) m.push_back(oid(s));
  return json::object{{"@odata.id", path},
                      {"@odata.type", "#" + type + "." + type},
                      {"Name", name},
                      {"Members@odata.count", members.size()},
                      {"Members", std::move(m)}};
}

json::object status_ok() { return json::object{{"State", "Enabled"}, {"Health", "OK"}}; }

json::object service_root(const std::string& uuid, const std::string& product) {
  return json::object{
      {"@odata.id", "/redfish/v1"},
      {"@odata.type", "#ServiceRoot.v1_11_0.ServiceRoot"},
      {"Id", "RootService"},
      {"Name", "Root Service"},
      {"RedfishVersion", "1.13.0"},
      {"UUID", uuid},
      {"Vendor", "FleetSim"},
      {"Product", product},
      {"Systems", oid("/redfish/v1/Systems")},
      {"Chassis", oid("/redfish/v1/Chassis")},
      {"Managers", oid("/redfish/v1/Managers")},
      {"SessionService", oid("/redfish/v1/SessionService")},
      {"AccountService", oid("/redfish/v1/AccountService")},
      {"Tasks", oid("/redfish/v1/TaskService")},
      {"Links", json::object{{"Sessions", oid("/redfish/v1/SessionService/Sessions")}}},
  };
}

void common_services(Personality* p) {
  auto put = [&](const std::string& path, json::object o) { p->raw[path] = json::serialize(o); };
  put("/redfish/v1/SessionService",
      json::object{{"@odata.id", "/redfish/v1/SessionService"},
                   {"@odata.type", "#SessionService.v1_1_8.SessionService"},
                   {"Id", "SessionService"},
                   {"Name", "Session Service"},
                   {"ServiceEnabled", true},
                   {"SessionTimeout", 600},
                   {"Sessions", oid("/redfish/v1/SessionService/Sessions")}});
  put("/redfish/v1/AccountService",
      json::object{{"@odata.id", "/redfish/v1/AccountService"},
                   {"@odata.type", "#AccountService.v1_10_0.AccountService"},
                   {"Id", "AccountService"},
                   {"Name", "Account Service"},
                   {"ServiceEnabled", true},
                   {"MinPasswordLength", 8},
                   {"Accounts", oid("/redfish/v1/AccountService/Accounts")}});
  put("/redfish/v1/AccountService/Accounts",
      collection("/redfish/v1/AccountService/Accounts", "ManagerAccountCollection", "Accounts",
                 {}));
  put("/redfish/v1/TaskService", json::object{{"@odata.id", "/redfish/v1/TaskService"},
                                              {"@odata.type", "#TaskService.v1_2_0.TaskService"},
                                              {"Id", "TaskService"},
                                              {"Name", "Task Service"},
                                              {"ServiceEnabled", true},
                                              {"Tasks", oid("/redfish/v1/TaskService/Tasks")}});
}

json::object boot_object(const std::string& mode) {
  return json::object{
      {"BootSourceOverrideEnabled", "Disabled"},
      {"BootSourceOverrideTarget", "None"},
      {"BootSourceOverrideTarget@Redfish.AllowableValues",
       json::array{"None", "Pxe", "Hdd", "Cd", "Usb", "BiosSetup", "UefiShell"}},
      {"BootSourceOverrideMode", mode},
      {"BootSourceOverrideMode@Redfish.AllowableValues", json::array{"Legacy", "UEFI"}},
  };
}

void rackmount(Personality* p) {
  auto put = [&](const std::string& path, json::object o) { p->raw[path] = json::serialize(o); };
  put("/redfish/v1", service_root("8a4f2c10-5b1e-4c7e-9d3a-0f6e2b7c1d01", "FleetSim 1U server"));
  common_services(p);
  put("/redfish/v1/Systems", collection("/redfish/v1/Systems", "ComputerSystemCollection",
                                        "Computer System Collection", {"/redfish/v1/Systems/1"}));
  put("/redfish/v1/Systems/1",
      json::object{
          {"@odata.id", "/redfish/v1/Systems/1"},
          {"@odata.type", "#ComputerSystem.v1_16_0.ComputerSystem"},
          {"Id", "1"},
          {"Name", "System"},
          {"SystemType", "Physical"},
          {"Manufacturer", "FleetSim"},
          {"Model", "FS-1U"},
          {"SerialNumber", "FS1U000001"},
          {"UUID", "8a4f2c10-5b1e-4c7e-9d3a-0f6e2b7c1d11"},
          {"HostName", "node"},
          {"Status", status_ok()},
          {"IndicatorLED", "Off"},
          {"PowerState", "On"},
          {"BiosVersion", "1.4.2"},
          {"Boot", boot_object("UEFI")},
          {"ProcessorSummary", json::object{{"Count", 2}, {"Model", "Simulated CPU"}}},
          {"MemorySummary", json::object{{"TotalSystemMemoryGiB", 256}}},
          {"Links", json::object{{"Chassis", json::array{oid("/redfish/v1/Chassis/1U")}},
                                 {"ManagedBy", json::array{oid("/redfish/v1/Managers/BMC")}}}},
          {"Actions",
           json::object{
               {"#ComputerSystem.Reset",
                json::object{{"target", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"},
                             {"ResetType@Redfish.AllowableValues",
                              json::array{"On", "ForceOff", "GracefulShutdown", "GracefulRestart",
                                          "ForceRestart", "Nmi", "ForceOn", "PushPowerButton",
                                          "PowerCycle"}}}}}},
      });
  put("/redfish/v1/Chassis", collection("/redfish/v1/Chassis", "ChassisCollection",
                                        "Chassis Collection", {"/redfish/v1/Chassis/1U"}));
  put("/redfish/v1/Chassis/1U",
      json::object{
          {"@odata.id", "/redfish/v1/Chassis/1U"},
          {"@odata.type", "#Chassis.v1_14_0.Chassis"},
          {"Id", "1U"},
          {"Name", "Computer System Chassis"},
          {"ChassisType", "RackMount"},
          {"Manufacturer", "FleetSim"},
          {"Model", "FS-1U"},
          {"Status", status_ok()},
          {"Links", json::object{{"ComputerSystems", json::array{oid("/redfish/v1/Systems/1")}},
                                 {"ManagedBy", json::array{oid("/redfish/v1/Managers/BMC")}}}}});
  put("/redfish/v1/Managers", collection("/redfish/v1/Managers", "ManagerCollection",
                                         "Manager Collection", {"/redfish/v1/Managers/BMC"}));
  put("/redfish/v1/Managers/BMC",
      json::object{{"@odata.id", "/redfish/v1/Managers/BMC"},
                   {"@odata.type", "#Manager.v1_10_0.Manager"},
                   {"Id", "BMC"},
                   {"Name", "Manager"},
                   {"ManagerType", "BMC"},
                   {"Manufacturer", "FleetSim"},
                   {"Model", "FleetSim BMC"},
                   {"FirmwareVersion", "2.1.0"},
                   {"Status", status_ok()},
                   {"Links", json::object{{"ManagerForServers",
                                           json::array{oid("/redfish/v1/Systems/1")}}}}});
}

void blade(Personality* p) {
  auto put = [&](const std::string& path, json::object o) { p->raw[path] = json::serialize(o); };
  {
    // The enclosure manager supports $expand (one level): one GET returns every blade.
    json::object root =
        service_root("8a4f2c10-5b1e-4c7e-9d3a-0f6e2b7c1e01", "FleetSim blade enclosure");
    root["ProtocolFeaturesSupported"] =
        json::object{{"ExpandQuery", json::object{{"ExpandAll", true},
                                                  {"Levels", true},
                                                  {"MaxLevels", 1},
                                                  {"Links", true},
                                                  {"NoLinks", true}}},
                     {"SelectQuery", false},
                     {"FilterQuery", false}};
    put("/redfish/v1", std::move(root));
  }
  common_services(p);
  std::vector<std::string> sys, chassis{"/redfish/v1/Chassis/Enclosure"};
  for (int i = 1; i <= 4; ++i) {
    std::string id = "Node" + std::to_string(i);
    std::string sp = "/redfish/v1/Systems/" + id;
    std::string cp = "/redfish/v1/Chassis/Blade" + std::to_string(i);
    sys.push_back(sp);
    chassis.push_back(cp);
    put(sp, json::object{
                {"@odata.id", sp},
                {"@odata.type", "#ComputerSystem.v1_16_0.ComputerSystem"},
                {"Id", id},
                {"Name", "Blade " + std::to_string(i)},
                {"SystemType", "Physical"},
                {"Manufacturer", "FleetSim"},
                {"Model", "FS-B2"},
                {"SerialNumber", "FSB2" + std::string(5, '0') + std::to_string(i)},
                {"Status", status_ok()},
                {"LocationIndicatorActive", false},
                {"PowerState", i % 2 ? "On" : "Off"},
                {"Boot", boot_object("UEFI")},
                {"Links", json::object{{"Chassis", json::array{oid(cp)}},
                                       {"ManagedBy", json::array{oid("/redfish/v1/Managers/EM")}}}},
                {"Actions",
                 json::object{{"#ComputerSystem.Reset",
                               json::object{{"target", sp + "/Actions/ComputerSystem.Reset"},
                                            {"@Redfish.ActionInfo", sp + "/ResetActionInfo"}}}}},
            });
    put(sp + "/ResetActionInfo",
        json::object{
            {"@odata.id", sp + "/ResetActionInfo"},
            {"@odata.type", "#ActionInfo.v1_1_2.ActionInfo"},
            {"Id", "ResetActionInfo"},
            {"Name", "Reset Action Info"},
            {"Parameters", json::array{json::object{
                               {"Name", "ResetType"},
                               {"Required", true},
                               {"DataType", "String"},
                               {"AllowableValues", json::array{"On", "ForceOff", "GracefulShutdown",
                                                               "ForceRestart", "Nmi"}}}}}});
    put(cp, json::object{
                {"@odata.id", cp},
                {"@odata.type", "#Chassis.v1_14_0.Chassis"},
                {"Id", "Blade" + std::to_string(i)},
                {"Name", "Blade " + std::to_string(i)},
                {"ChassisType", "Blade"},
                {"Status", status_ok()},
                {"Links", json::object{{"ComputerSystems", json::array{oid(sp)}},
                                       {"ContainedBy", oid("/redfish/v1/Chassis/Enclosure")}}}});
  }
  put("/redfish/v1/Systems", collection("/redfish/v1/Systems", "ComputerSystemCollection",
                                        "Computer System Collection", sys));
  put("/redfish/v1/Chassis",
      collection("/redfish/v1/Chassis", "ChassisCollection", "Chassis Collection", chassis));
  json::array contains;
  for (std::size_t i = 1; i < chassis.size(); ++i) contains.push_back(oid(chassis[i]));
  put("/redfish/v1/Chassis/Enclosure",
      json::object{
          {"@odata.id", "/redfish/v1/Chassis/Enclosure"},
          {"@odata.type", "#Chassis.v1_14_0.Chassis"},
          {"Id", "Enclosure"},
          {"Name", "Blade Enclosure"},
          {"ChassisType", "Enclosure"},
          {"Manufacturer", "FleetSim"},
          {"Model", "FS-E8"},
          {"Status", status_ok()},
          {"Links", json::object{{"Contains", std::move(contains)},
                                 {"ManagedBy", json::array{oid("/redfish/v1/Managers/EM")}}}}});
  put("/redfish/v1/Managers", collection("/redfish/v1/Managers", "ManagerCollection",
                                         "Manager Collection", {"/redfish/v1/Managers/EM"}));
  json::array servers;
  for (const auto& s : sys) servers.push_back(oid(s));
  put("/redfish/v1/Managers/EM",
      json::object{{"@odata.id", "/redfish/v1/Managers/EM"},
                   {"@odata.type", "#Manager.v1_10_0.Manager"},
                   {"Id", "EM"},
                   {"Name", "Enclosure Manager"},
                   {"ManagerType", "EnclosureManager"},
                   {"Manufacturer", "FleetSim"},
                   {"Model", "FleetSim EM"},
                   {"FirmwareVersion", "3.0.1"},
                   {"Status", status_ok()},
                   {"Links", json::object{{"ManagerForServers", std::move(servers)}}}});
}

}  // namespace

std::vector<std::string> builtin_names() { return {"rackmount", "blade"}; }

bool load_builtin(const std::string& name, Personality* out, std::string* err) {
  out->name = name;
  out->source = "builtin";
  if (name == "rackmount")
    rackmount(out);
  else if (name == "blade")
    blade(out);
  else {
    *err = "unknown built-in personality '" + name + "' (rackmount, blade)";
    return false;
  }
  return index_personality(out, err);
}

}  // namespace fleetpower::sim

// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: vendor personalities.  Each one is a tree (a shared capture where one exists,
// else a DMTF public mockup with the vendor's fields set) plus the quirks of that BMC family, so
// that wrong usage gets the answer a real BMC of that family gives.  Where each fact comes from
// is listed in tests/sim/README.md ("Vendor personalities").
#include <algorithm>

#include "sim.hpp"

namespace fleetpower::sim {

namespace json = boost::json;

namespace {

struct VendorRow {
  const char* name;
  const char* plugin;
  std::uint32_t manufacturer;  // IANA enterprise number reported by IPMI Get Device ID
  std::uint16_t product;
};

// Manufacturer ids: IANA enterprise numbers (FreeIPMI's ipmi-iana-enterprise-numbers-spec.h for
// Dell 674, HP 11, Supermicro 10876; IANA registry for Lenovo 19046 and AMI 20974).  OpenBMC's
// default dev_id.json reports 0 (machines override it).  Product ids: Dell 256 and HP 8192 from
// FreeIPMI's ipmi-product-id-spec.h, Supermicro 2081 (X10DRW-i, same header); the others are
// illustrative.
constexpr VendorRow kVendors[] = {
    {"generic", "generic-redfish", 0, 0x5046},
    {"dell", "dell-idrac", 674, 256},
    {"hpe", "hpe-ilo", 11, 8192},
    {"hpe-ilo4", "hpe-ilo", 11, 8192},
    {"hpe-ilo6", "hpe-ilo", 11, 8192},
    {"supermicro", "supermicro", 10876, 2081},
    {"lenovo", "lenovo-xcc", 19046, 0x0001},
    {"openbmc", "openbmc", 0, 0},
    {"ami", "ami-megarac", 20974, 0x0001},
    {"cray", "hpe-cray-ex", 11, 0x0001},
};

const VendorRow* find_row(std::string_view name) {
  for (const auto& r : kVendors)
    if (name == r.name) return &r;
  return nullptr;
}

/// Parses raw[path] as an object, lets `fn` edit it, stores it back.  False if absent/not JSON.
template <class F>
bool edit(Personality* p, const std::string& path, F fn) {
  auto it = p->raw.find(path);
  if (it == p->raw.end()) return false;
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  if (ec || !v.is_object()) return false;
  fn(v.as_object());
  it->second = json::serialize(v);
  return true;
}

void put(Personality* p, const std::string& path, const json::object& o) {
  p->raw[path] = json::serialize(o);
}

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s->find(from, pos)) != std::string::npos) {
    s->replace(pos, from.size(), to);
    pos += to.size();
  }
}

/// Renames a resource id everywhere in the tree (paths, links, bodies).
void rename(Personality* p, std::string_view from, std::string_view to) {
  std::unordered_map<std::string, std::string> out;
  out.reserve(p->raw.size());
  for (auto& kv : p->raw) {
    std::string k = kv.first, v = std::move(kv.second);
    replace_all(&k, from, to);
    replace_all(&v, from, to);
    out.emplace(std::move(k), std::move(v));
  }
  p->raw = std::move(out);
}


void set_manager(Personality* p, const std::string& path, const char* manufacturer,
                 const char* model, const char* firmware) {
  edit(p, path, [&](json::object& m) {
    m["Manufacturer"] = manufacturer;
    m["Model"] = model;
    m["FirmwareVersion"] = firmware;
  });
}

bool hpe_variant(Personality* p, const char* model, const char* fw_short) {
  std::string fw = std::string(model) + " v" + fw_short;
  bool ok = edit(p, "/redfish/v1/Managers/1", [&](json::object& m) {
    m["Model"] = model;
    m["FirmwareVersion"] = fw;
  });
  edit(p, "/redfish/v1", [&](json::object& r) {
    auto* oem = r.if_contains("Oem");
    auto* hpe = oem && oem->is_object() ? oem->as_object().if_contains("Hpe") : nullptr;
    auto* mgrs = hpe && hpe->is_object() ? hpe->as_object().if_contains("Manager") : nullptr;
    if (mgrs && mgrs->is_array())
      for (auto& m : mgrs->as_array())
        if (m.is_object()) {
          m.as_object()["ManagerType"] = model;
          m.as_object()["ManagerFirmwareVersion"] = fw_short;
        }
  });
  return ok;
}

}  // namespace

std::vector<std::string> vendor_names() {
  std::vector<std::string> v;
  for (const auto& r : kVendors) v.emplace_back(r.name);
  return v;
}

bool vendor_ipmi_ident(const std::string& name, IpmiIdent* out) {
  const VendorRow* r = find_row(name);
  if (!r) return false;
  out->manufacturer = r->manufacturer;
  out->product = r->product;
  out->plugin = r->plugin;
  return true;
}

bool parse_vendor_list(std::string_view spec, std::vector<std::string>* out, std::string* err) {
  out->clear();
  std::size_t start = 0;
  while (start <= spec.size()) {
    auto comma = spec.find(',', start);
    std::string_view item = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      if (!find_row(item)) {
        std::string names;
        for (const auto& r : kVendors) names += std::string(names.empty() ? "" : "|") + r.name;
        *err = "unknown vendor '" + std::string(item) + "' (" + names + ")";
        return false;
      }
      out->emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out->empty()) {
    *err = "no vendor named";
    return false;
  }
  return true;
}

bool load_vendor(const std::string& name, const std::string& root, Personality* p,
                 std::string* err) {
  const VendorRow* row = find_row(name);
  if (!row) {
    *err = "unknown vendor '" + name + "'";
    return false;
  }
  p->name = name;
  auto tree = [&](const char* dir) { return root + "/" + dir; };
  bool ok = false;
  const std::string n = name;
  if (n == "generic") {
    ok = load_builtin("rackmount", p, err);
  } else if (n == "dell") {
    // iDRAC 9: the R6515 capture (root, System.Embedded.1) and the R640 samples for the manager.
    ok = load_fixture_dirs({tree("bmclib-dell-idrac"), tree("sushy-oem-idrac-json_samples")}, p,
                           err);
    p->graceful_restart_hard = true;
  } else if (n == "hpe" || n == "hpe-ilo4" || n == "hpe-ilo6") {
    ok = load_mockup_dir(tree("csm-DL325"), p, err);
    if (ok && n == "hpe-ilo4") ok = hpe_variant(p, "iLO 4", "2.82");
    if (ok && n == "hpe-ilo6") ok = hpe_variant(p, "iLO 6", "1.55");
    if (!ok && err->empty()) *err = "csm-DL325 has no Managers/1";
    p->strict_state = true;
  } else if (n == "lenovo") {
    ok = load_fixture_dirs({tree("bmclib-lenovo-xcc")}, p, err);
  } else if (n == "openbmc") {
    ok = load_mockup_dir(tree("csm-OpenBMC-stock"), p, err);
    p->reject_id = "ActionParameterUnknown";
  } else if (n == "supermicro" || n == "ami") {
    ok = load_mockup_dir(tree("dmtf-public-rackmount1"), p, err);
    if (ok) {
      const bool smc = n == "supermicro";
      const std::string id = smc ? "1" : "Self";
      rename(p, "437XR1138R2", id);
      rename(p, "/redfish/v1/Managers/BMC", "/redfish/v1/Managers/" + id);
      edit(p, "/redfish/v1", [&](json::object& r) {
        r["Vendor"] = smc ? "Supermicro" : "AMI";
        r["Oem"] = smc ? json::object{{"Supermicro", json::object{}}}
                       : json::object{{"Ami", json::object{{"RtpVersion", "1.8.a"}}}};
      });
      edit(p, "/redfish/v1/Systems/" + id, [&](json::object& s) {
        s["Id"] = id;
        s["Manufacturer"] = smc ? "Supermicro" : "AMI";
      });
      edit(p, "/redfish/v1/Managers/" + id, [&](json::object& m) { m["Id"] = id; });
      if (smc) {
        set_manager(p, "/redfish/v1/Managers/1", "Supermicro", "X10DRW-i", "03.88");
        p->malformed_reset_list = true;
        p->boot_mode_required = true;
      } else {
        set_manager(p, "/redfish/v1/Managers/Self", "American Megatrends International",
                    "AMI MegaRAC SPX", "13.2.0");
        p->settings_suffix = "/SD";
        p->settings_error_id = "Ami.1.0.OperationSupportedInFutureStateURI";
        p->require_if_match = true;
      }
    }
  } else if (n == "cray") {
    // HPE Cray EX node controller (nC): Systems Node0/Node1, ResetType list only through
    // ActionInfo with the non-standard "Off" (On, ForceOff, Off: the csm emulator's BardPeak
    // capture), no Boot object, no PowerCycle.
    ok = load_mockup_dir(tree("dmtf-public-bladed"), p, err);
    if (ok) {
      std::vector<std::string> ids;
      if (auto it = p->raw.find("/redfish/v1/Systems"); it != p->raw.end()) {
        boost::system::error_code ec;
        json::value v = json::parse(it->second, ec);
        if (!ec && v.is_object())
          if (auto* m = v.as_object().if_contains("Members"); m && m->is_array())
            for (auto& e : m->as_array())
              if (e.is_object())
                if (auto* s = e.as_object().if_contains("@odata.id"); s && s->is_string()) {
                  std::string sp(s->as_string());
                  ids.push_back(sp.substr(sp.rfind('/') + 1));
                }
      }
      std::sort(ids.begin(), ids.end());
      if (ids.size() < 2) {
        *err = "dmtf-public-bladed: fewer than two systems";
        return false;
      }
      for (std::size_t i = 0; i < 2; ++i) rename(p, ids[i], "Node" + std::to_string(i));
      const std::string mgr = "/redfish/v1/Managers/BMC";
      json::array members;
      for (int i = 0; i < 2; ++i) {
        std::string sp = "/redfish/v1/Systems/Node" + std::to_string(i);
        members.push_back(oid(sp));
        edit(p, sp, [&](json::object& s) {
          s["Id"] = "Node" + std::to_string(i);
          s["Manufacturer"] = "HPE";
          s["Model"] = "HPE Cray EX node";
          s.erase("Boot");
          s["Actions"] =
              json::object{{"#ComputerSystem.Reset",
                            json::object{{"target", sp + "/Actions/ComputerSystem.Reset"},
                                         {"@Redfish.ActionInfo", sp + "/ResetActionInfo"}}}};
          s["Links"] = json::object{{"ManagedBy", json::array{oid(mgr)}}};
        });
        put(p, sp + "/ResetActionInfo",
            json::object{
                {"@odata.id", sp + "/ResetActionInfo"},
                {"@odata.type", "#ActionInfo.v1_0_3.ActionInfo"},
                {"Id", "ResetAction"},
                {"Name", "ResetAction"},
                {"Parameters",
                 json::array{json::object{{"AllowableValues", json::array{"On", "ForceOff", "Off"}},
                                          {"DataType", "String"},
                                          {"Name", "ResetType"},
                                          {"Required", true}}}}});
      }
      edit(p, "/redfish/v1/Systems", [&](json::object& c) {
        c["Members@odata.count"] = members.size();
        c["Members"] = members;
      });
      put(p, mgr,
          json::object{{"@odata.id", mgr},
                       {"@odata.type", "#Manager.v1_3_2.Manager"},
                       {"Id", "BMC"},
                       {"Name", "BMC"},
                       {"ManagerType", "EnclosureManager"},
                       {"Manufacturer", "HPE"},
                       {"Model", "HPE Cray EX nC"},
                       {"FirmwareVersion", "nc.1.9.11"},
                       {"Status", json::object{{"Health", "OK"}}}});
      put(p, "/redfish/v1/Managers",
          json::object{{"@odata.id", "/redfish/v1/Managers"},
                       {"@odata.type", "#ManagerCollection.ManagerCollection"},
                       {"Name", "Manager Collection"},
                       {"Members@odata.count", 1},
                       {"Members", json::array{oid(mgr)}}});
      edit(p, "/redfish/v1", [&](json::object& r) {
        r.erase("Vendor");
        r.erase("Product");
        r.erase("Oem");
      });
    }
  }
  if (!ok) {
    if (err->empty()) *err = "cannot build vendor personality " + name;
    return false;
  }
  p->name = name;
  p->vendor_id = name;
  p->plugin = row->plugin;
  return index_personality(p, err);
}

}  // namespace fleetpower::sim

// SPDX-License-Identifier: GPL-3.0-or-later
// Inventory overlays (`include:`), as 'probe --write-inventory' writes them.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/inventory.hpp"

using namespace fleetpower;

namespace {
struct Dir {
  std::filesystem::path p;
  Dir() {
    char t[] = "/tmp/fp-overlay-XXXXXX";
    p = ::mkdtemp(t);
  }
  ~Dir() { std::filesystem::remove_all(p); }
  std::string put(const std::string& n, const std::string& text) const {
    std::ofstream(p / n) << text;
    return (p / n).string();
  }
};
std::string all(const std::vector<Diagnostic>& d) {
  std::string s;
  for (auto& x : d) s += x.str() + "\n";
  return s;
}
}  // namespace

TEST_CASE("inventory overlay: include + hosts pins keys on the included hosts") {
  Dir d;
  d.put("base.yaml", "defaults: {credentials: lab}\ngroups:\n  rack:\n    hosts: n[1-3]\n    bmc: \"{host}-bmc\"\n");
  auto ov = d.put("probed.yaml",
                  "include: base.yaml\nhosts:\n  n1: {protocol: \"redfish\", vendor: \"generic-redfish\", system: \"1\"}\n"
                  "  n[2-3]: {protocol: ipmi, cipher_suite: \"17\"}\n");
  Inventory inv;
  std::vector<Diagnostic> diags;
  REQUIRE(load_inventory(ov, &inv, &diags));
  INFO(all(diags));
  CHECK(inv.path == ov);
  REQUIRE(inv.targets.size() == 3);
  auto* n1 = inv.find("n1");
  REQUIRE(n1);
  CHECK(n1->protocol == "redfish");
  CHECK(n1->vendor == "generic-redfish");
  CHECK(n1->var_or("system", "") == "1");
  CHECK(n1->bmc == "n1-bmc");
  CHECK(n1->credentials == "lab");
  CHECK(inv.find("n3")->protocol == "ipmi");
  CHECK(inv.find("n3")->var_or("cipher_suite", "") == "17");
  CHECK(inv.groups.at("rack").size() == 3);
}

TEST_CASE("inventory overlay: errors name the overlay file and key") {
  Dir d;
  d.put("base.yaml", "hosts:\n  n1: {bmc: 10.0.0.1}\n");
  auto ov = d.put("o.yaml", "include: base.yaml\nhosts:\n  n9: {protocol: ipmi}\n  n1: {cipher_suite: \"99\"}\n");
  Inventory inv;
  std::vector<Diagnostic> diags;
  CHECK_FALSE(load_inventory(ov, &inv, &diags));
  auto s = all(diags);
  CHECK_THAT(s, Catch::Contains(ov + ":3:3: hosts.n9: n9 is not a host of"));
  CHECK_THAT(s, Catch::Contains("hosts.n1.cipher_suite"));
  diags.clear();
  auto ov2 = d.put("o2.yaml", "include: missing.yaml\nhosts: {}\n");
  Inventory inv2, inv3, inv4;
  CHECK_FALSE(load_inventory(ov2, &inv2, &diags));
  diags.clear();
  auto ov3 = d.put("o3.yaml", "include: base.yaml\ndefaults: {protocol: ipmi}\n");
  CHECK_FALSE(load_inventory(ov3, &inv3, &diags));
  CHECK_THAT(all(diags), Catch::Contains("only 'hosts' may follow"));
  diags.clear();
  auto loop = d.put("loop.yaml", "include: loop.yaml\n");
  CHECK_FALSE(load_inventory(loop, &inv4, &diags));
}

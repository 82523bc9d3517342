// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "core/credentials.hpp"
#include "core/duration.hpp"
#include "core/inventory.hpp"

using namespace fleetpower;

namespace {
std::string all_diags(const std::vector<Diagnostic>& d) {
  std::string s;
  for (auto& x : d) s += x.str() + "\n";
  return s;
}
const char* kExample = R"(defaults:
  protocol: ipmi
  credentials: lab
groups:
  rack1:
    hosts: node[001-040]
    bmc: 127.1.0.[1-40]          # zipped with hosts
    vars: { circuit: r1-a, phase: L1, watts: 450 }
  gpu:
    hosts: gpu[01-04]
    bmc: "{host}-bmc.example"     # template
    protocol: redfish
    port: 8443
  everything:
    children: [rack1, gpu]
    vars: { pdu: pdu-a }
hosts:
  node007: { watts: 900, cipher_suite: 17 }
)";
}  // namespace

TEST_CASE("the issue's example inventory loads with inheritance", "[inventory]") {
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(kExample, "inv.yaml", &inv, &d));
  INFO(all_diags(d));
  REQUIRE(inv.targets.size() == 44);
  const Target* n1 = inv.find("node001");
  REQUIRE(n1);
  CHECK(n1->bmc == "127.1.0.1");
  CHECK(n1->protocol == "ipmi");
  CHECK(n1->credentials == "lab");
  CHECK(n1->var_or("circuit", "") == "r1-a");
  CHECK(n1->var_or("watts", "") == "450");
  CHECK(n1->var_or("pdu", "") == "pdu-a");  // from the parent group
  const Target* n40 = inv.find("node040");
  CHECK(n40->bmc == "127.1.0.40");
  const Target* n7 = inv.find("node007");
  CHECK(n7->var_or("watts", "") == "900");  // host over group
  CHECK(n7->var_or("cipher_suite", "") == "17");
  const Target* g2 = inv.find("gpu02");
  CHECK(g2->bmc == "gpu02-bmc.example");
  CHECK(g2->protocol == "redfish");
  CHECK(g2->port == 8443);
  CHECK(inv.groups.at("everything").size() == 44);
  CHECK(inv.groups.at("gpu").size() == 4);
}

TEST_CASE("inventory errors name line, column and key", "[inventory]") {
  SECTION("zipped bmc list of the wrong length") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("groups:\n  r:\n    hosts: n[1-40]\n    bmc: 10.0.0.[1-39]\n", "x.yaml", &inv, &d));
    REQUIRE(!d.empty());
    CHECK(d[0].line == 4);
    CHECK(d[0].key == "groups.r.bmc");
    CHECK(d[0].message.find("39 BMC addresses for 40 hosts") != std::string::npos);
  }
  SECTION("unknown key with a suggestion") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("groups:\n  r:\n    hosts: n[1-2]\n    bmc: \"{host}-b\"\n    protocl: ipmi\n", "x.yaml", &inv, &d));
    REQUIRE(d.size() == 1);
    CHECK(d[0].line == 5);
    CHECK(d[0].column == 5);
    CHECK(d[0].key == "groups.r.protocl");
    CHECK(d[0].message.find("did you mean 'protocol'") != std::string::npos);
  }
  SECTION("duplicate hosts across groups") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("defaults: {bmc: \"{host}-b\"}\ngroups:\n  a: {hosts: \"n[1-5]\"}\n  b: {hosts: \"n[5-6]\"}\n", "x.yaml", &inv, &d));
    REQUIRE(!d.empty());
    CHECK(d[0].line == 4);
    CHECK(d[0].message.find("duplicate host n5") != std::string::npos);
  }
  SECTION("bad hostlist points at the column") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("groups:\n  a: {hosts: \"n[3-1]\", bmc: \"{host}\"}\n", "x.yaml", &inv, &d));
    REQUIRE(!d.empty());
    CHECK(d[0].line == 2);
    CHECK(d[0].message.find("bad hostlist") != std::string::npos);
  }
  SECTION("bad values") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("defaults: {protocol: ipmo, port: 99999, watts: lots, bmc: x}\nhosts:\n  a: {}\n", "x.yaml", &inv, &d));
    CHECK(d.size() == 3);
  }
  SECTION("passwords are refused in the inventory") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("defaults: {bmc: x, password: hunter2}\nhosts:\n  a: {}\n", "x.yaml", &inv, &d));
    REQUIRE(d.size() == 1);
    CHECK(d[0].message.find("hunter2") == std::string::npos);
    CHECK(d[0].message.find("credentials") != std::string::npos);
  }
  SECTION("YAML syntax errors") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("groups:\n  a: [unclosed\n", "x.yaml", &inv, &d));
    REQUIRE(d.size() == 1);
    CHECK(d[0].line >= 2);
  }
  SECTION("unknown children and members") {
    Inventory inv;
    std::vector<Diagnostic> d;
    CHECK_FALSE(load_inventory_text("defaults: {bmc: \"{host}\"}\ngroups:\n  a: {hosts: n1}\n  b: {children: [aa]}\n  c: {members: n2}\n", "x.yaml", &inv, &d));
    CHECK(d.size() == 2);
    CHECK(all_diags(d).find("did you mean 'a'") != std::string::npos);
  }
}

TEST_CASE("selection: groups, hostlists, exclusions, typos", "[inventory]") {
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(kExample, "inv.yaml", &inv, &d));
  std::vector<const Target*> out;
  std::string err;
  Selection s;
  s.include = {"@rack1"};
  s.exclude = {"node[002-039]"};
  REQUIRE(resolve_selection(inv, s, &out, &err));
  REQUIRE(out.size() == 2);
  CHECK(out[0]->name == "node001");
  CHECK(out[1]->name == "node040");

  s = {};
  s.include = {"node[001-050]"};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));
  CHECK(err.find("node[041-050]") != std::string::npos);

  s = {};
  s.include = {"node001,,node002"};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));
  CHECK(err == "empty element at column 9 of 'node001,,node002'");
  s.include = {"node001,node[3-1]"};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));
  // The column counts from the start of the whole argument, inside the second element.
  auto at = err.find("at column ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoi(err.substr(at + 10)) >= 14);
  s.include = {"node001, @gpu"};
  REQUIRE(resolve_selection(inv, s, &out, &err));
  CHECK(out.size() == 5);

  s = {};
  s.include = {"@rakc1"};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));
  CHECK(err.find("did you mean @rack1") != std::string::npos);

  s = {};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));  // empty selection
  s.all = true;
  REQUIRE(resolve_selection(inv, s, &out, &err));
  CHECK(out.size() == 44);
  s = {};
  s.include = {"@all"};
  CHECK_FALSE(resolve_selection(inv, s, &out, &err));  // the whole fleet needs --all
}

TEST_CASE("credentials: file mode, sources, no secret in errors", "[credentials]") {
  char dir[] = "/tmp/fpcredXXXXXX";
  REQUIRE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/c.yaml";
  {
    std::ofstream f(path);
    f << "lab: { username: admin, password_env: FP_TEST_LAB_PW }\nfixed: { username: root, password: s3cret }\n";
  }
  std::vector<Diagnostic> d;
  ::chmod(path.c_str(), 0644);
  CredentialStore open_store;
  CHECK_FALSE(open_store.load(path, &d));
  REQUIRE(d.size() == 1);
  CHECK(d[0].message.find("chmod 600") != std::string::npos);

  ::chmod(path.c_str(), 0600);
  d.clear();
  CredentialStore store;
  REQUIRE(store.load(path, &d));
  std::string err;
  ::unsetenv("FP_TEST_LAB_PW");
  CHECK(store.resolve("lab", &err) == nullptr);
  CHECK(err.find("FP_TEST_LAB_PW") != std::string::npos);
  ::setenv("FP_TEST_LAB_PW", "pw-from-env", 1);
  auto* c = store.resolve("lab", &err);
  REQUIRE(c);
  CHECK(c->username == "admin");
  CHECK(c->password.reveal() == "pw-from-env");
  auto* f = store.resolve("fixed", &err);
  REQUIRE(f);
  CHECK(f->password.reveal() == "s3cret");
  CHECK(store.resolve("lba", &err) == nullptr);
  CHECK(err.find("did you mean 'lab'") != std::string::npos);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("durations", "[duration]") {
  CHECK(parse_duration("500ms")->count() == 500);
  CHECK(parse_duration("5s")->count() == 5000);
  CHECK(parse_duration("2m")->count() == 120000);
  CHECK(parse_duration("1m30s")->count() == 90000);
  CHECK(parse_duration("2.5")->count() == 2500);
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("ms"));
}

// SPDX-License-Identifier: GPL-3.0-or-later
// Outlets as a power path: the `outlets` key, the table for --via pdu, and the combined
// node state through the test backend standing in for the PDUs.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "core/outlets.hpp"
#include "core/test_backend.hpp"

using namespace fleetpower;

TEST_CASE("outlets key parsing", "[outlets]") {
  std::vector<OutletRef> r;
  std::string err;
  REQUIRE(parse_outlets("pdu-a1:5,pdu-b1:5", &r, &err));
  REQUIRE(r.size() == 2);
  CHECK(r[0].pdu == "pdu-a1");
  CHECK(r[0].outlet == "5");
  CHECK(r[1].pdu == "pdu-b1");
  REQUIRE(parse_outlets("cdu1:.A5", &r, &err));
  CHECK(r[0].outlet == ".A5");
  for (const char* bad : {"pdu-a1", "pdu-a1:", ":5", "pdu-a1:5;olOff 6", "pdu-a1:5 6", "pdu;x:5", "pdu-a1:`x`",
                          "pdu-a1:$(x)", "pdu-a1:5\nx", "pdu-a1:-5", "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9"}) {
    INFO(bad);
    CHECK_FALSE(parse_outlets(bad, &r, &err));
  }
  CHECK_FALSE(parse_outlets("pdu-a1:5;x", &r, &err));
  CHECK(err.find("nothing was sent") != std::string::npos);
}

TEST_CASE("outlet table from the inventory", "[outlets]") {
  Inventory inv;
  std::vector<Diagnostic> diags;
  REQUIRE(load_inventory_text(R"(
defaults: {credentials: lab}
hosts:
  pdu-a1: {protocol: test, ssh_profile: apc}
  pdu-b1: {protocol: test, ssh_profile: apc}
  node005: {protocol: redfish, bmc: 10.0.0.5, outlets: [pdu-a1:5, pdu-b1:5], cycle_delay: 2s}
  node006: {protocol: ipmi, outlets: pdu-a1:6}
  node007: {protocol: ipmi, bmc: 10.0.0.7}
  node008: {protocol: ipmi, bmc: 10.0.0.8, outlets: [pdu-c1:8]}
)",
                              "inv.yaml", &inv, &diags));
  CredentialStore creds;
  REQUIRE(creds.load_text("lab: {username: admin, password: pw}\n", "cred.yaml", &diags));
  OutletTable table;
  std::string err;
  REQUIRE(build_outlet_table(inv, {inv.find("node005"), inv.find("node006")}, creds, &table, &err));
  auto& p = table.at("node005");
  REQUIRE(p.feeds.size() == 2);
  CHECK(p.feeds[0].label == "A");
  CHECK(p.feeds[1].name == "pdu-b1:5");
  CHECK(*p.feeds[1].target->var("outlet") == "5");
  CHECK(p.feeds[1].credential->username == "admin");
  CHECK(p.cycle_delay == std::chrono::seconds(2));
  CHECK_FALSE(build_outlet_table(inv, {inv.find("node007")}, creds, &table, &err));
  CHECK(err.find("node007 has no 'outlets'") != std::string::npos);
  CHECK_FALSE(build_outlet_table(inv, {inv.find("node008")}, creds, &table, &err));
  CHECK(err.find("PDU 'pdu-c1' is not an inventory host") != std::string::npos);
}

TEST_CASE("the pdu backend combines outlet states and switches every outlet", "[outlets]") {
  Inventory inv;
  std::vector<Diagnostic> diags;
  REQUIRE(load_inventory_text(R"(
hosts:
  pdu-a1: {protocol: test, test_state: on}
  pdu-b1: {protocol: test, test_state: off}
  node005: {protocol: test, outlets: [pdu-a1:5, pdu-b1:5], cycle_delay: 50ms}
)",
                              "inv.yaml", &inv, &diags));
  CredentialStore creds;
  creds.load_text("env: {username: u, password: p}\n", "c", &diags);
  auto table = std::make_shared<OutletTable>();
  std::string err;
  REQUIRE(build_outlet_table(inv, {inv.find("node005")}, creds, table.get(), &err));

  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  reg.add("pdu", make_outlet_backend(io.get_executor(), reg, table));
  auto* pdu = reg.find("pdu");
  const Target& node = *inv.find("node005");
  Credential none;
  auto run = [&](Action a) {
    Outcome out;
    bool called = false;
    Request r;
    r.action = a;
    pdu->start(OpContext{node, none, r, Clock::now() + std::chrono::seconds(5), {}}, [&](Outcome o) {
      out = std::move(o);
      called = true;
    });
    CHECK_FALSE(called);  // never from inside start()
    io.restart();
    io.run();
    CHECK(called);
    return out;
  };
  // The test backend keys its state by target name: both feeds are "pdu-a1"/"pdu-b1".
  auto st = run(Action::Status);
  CHECK(st.ok());
  CHECK(st.result == "partial: A on, B off");
  CHECK(run(Action::On).ok());
  st = run(Action::Status);
  CHECK(st.result == "on (2/2 outlets)");
  CHECK(st.state == PowerState::On);
  auto cyc = run(Action::Cycle);
  CHECK(cyc.ok());
  bool cycled = false;
  for (auto& [k, v] : cyc.facts) cycled = cycled || (k == "cycled" && v == "off-on");
  CHECK(cycled);
  CHECK(run(Action::Off).ok());
  CHECK(run(Action::Status).result == "off (2/2 outlets)");
  auto nmi = run(Action::Nmi);
  CHECK(nmi.error == ErrorKind::Unsupported);
}

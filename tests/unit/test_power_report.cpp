// SPDX-License-Identifier: GPL-3.0-or-later
// Measured power: aggregation per circuit, PDU and phase, imbalance, greedy rebalancing, and
// the Prometheus exposition (escaping, what is and is not emitted).
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <random>
#include <sstream>

#include "core/inventory.hpp"
#include "core/power_report.hpp"
#include "core/prometheus.hpp"

using namespace fleetpower;

namespace {

const char* kInv = R"(defaults: { protocol: test }
power:
  circuits:
    c1: { feed: A, phase: L1 }
    c2: { feed: A, phase: L2 }
    c3: { feed: A, phase: L3 }
    c4: { feed: B, phase: L1 }
groups:
  r1: { hosts: "n[1-4]", vars: { circuit: c1, pdu: p1 } }
  r2: { hosts: "n[5-6]", vars: { circuit: c2, pdu: p2 } }
  r3: { hosts: "n7", vars: { circuit: c3, pdu: p2 } }
  r4: { hosts: "n8", vars: { circuit: c4 } }
hosts:
  n9: {}
)";

struct Fixture {
  Inventory inv;
  std::vector<NodeReading> nodes;
  explicit Fixture(std::map<std::string, std::optional<double>> w) {
    std::vector<Diagnostic> d;
    REQUIRE(load_inventory_text(kInv, "inv.yaml", &inv, &d));
    for (auto& t : inv.targets) {
      NodeReading n;
      place_target(inv, t, &n);
      auto it = w.find(t.name);
      if (it != w.end()) n.watts = it->second;
      nodes.push_back(n);
    }
  }
};

}  // namespace

TEST_CASE("power report sums per circuit, PDU and phase, and missing readings are never zero") {
  Fixture f({{"n1", 100},
             {"n2", 200},
             {"n3", 300},
             {"n4", std::nullopt},
             {"n5", 150},
             {"n6", 50},
             {"n7", 80.5},
             {"n8", 400},
             {"n9", 10}});
  auto r = make_power_report(f.inv, f.nodes);
  CHECK(r.circuits["c1"].watts == 600);
  CHECK(r.circuits["c1"].nodes == 4);
  CHECK(r.circuits["c1"].reporting == 3);
  CHECK(r.circuits["c1"].missing == std::vector<std::string>{"n4"});
  CHECK_FALSE(r.circuits["c1"].complete());
  CHECK(r.circuits["c2"].watts == 200);
  CHECK(r.circuits["c3"].watts == 80.5);
  CHECK(r.pdus["p1"].watts == 600);
  CHECK(r.pdus["p2"].watts == 280.5);
  CHECK(r.pdus["p2"].nodes == 3);
  CHECK(r.pdus.size() == 2);
  REQUIRE(r.feeds.count("A"));
  REQUIRE(r.feeds.count("B"));
  auto& a = r.feeds["A"];
  CHECK(a.phases["L1"].watts == 600);
  CHECK(a.phases["L1"].reporting == 3);
  CHECK(a.phases["L2"].watts == 200);
  CHECK(a.phases["L3"].watts == 80.5);
  CHECK_FALSE(a.complete());
  CHECK(a.spread == Approx(519.5));
  CHECK(a.mean == Approx(880.5 / 3));
  CHECK(a.imbalance == Approx(519.5 / (880.5 / 3)));
  CHECK(r.feeds["B"].phases.size() == 1);
  CHECK(r.feeds["B"].moves.empty());
  CHECK(r.total.watts == Approx(1290.5));
  CHECK(r.total.reporting == 8);
  CHECK(r.total.nodes == 9);
  CHECK(r.no_phase == std::vector<std::string>{"n9"});
}

TEST_CASE("greedy rebalancing: each move shrinks the spread, picks the node nearest half the gap") {
  Fixture f({{"n1", 100},
             {"n2", 200},
             {"n3", 300},
             {"n4", 250},
             {"n5", 150},
             {"n6", 50},
             {"n7", 80},
             {"n8", 400},
             {"n9", 10}});
  auto r = make_power_report(f.inv, f.nodes);
  auto& a = r.feeds["A"];
  // L1 850, L2 200, L3 80: the gap L1-L3 is 770, half 385: n3 (300) is nearest.
  REQUIRE_FALSE(a.moves.empty());
  CHECK(a.moves[0].node == "n3");
  CHECK(a.moves[0].from_phase == "L1");
  CHECK(a.moves[0].to_phase == "L3");
  CHECK(a.moves[0].from_circuit == "c1");
  CHECK(a.moves[0].to_circuit == "c3");
  CHECK(a.spread_after < a.spread);
  CHECK(a.imbalance_after < a.imbalance);
  // Replaying the moves gives the reported spread.
  std::map<std::string, double> load;
  for (auto& [p, s] : a.phases) load[p] = s.watts;
  for (auto& m : a.moves) {
    load[m.from_phase] -= m.watts;
    load[m.to_phase] += m.watts;
  }
  double mn = 1e18, mx = -1e18;
  for (auto& [p, w] : load) {
    mn = std::min(mn, w);
    mx = std::max(mx, w);
  }
  CHECK(mx - mn == Approx(a.spread_after));
}

TEST_CASE("rebalancing never makes things worse on random fleets") {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::string inv = "defaults: { protocol: test }\nhosts:\n";
    std::uniform_int_distribution<int> nodes(1, 30), w(0, 900), ph(1, 3);
    int n = nodes(rng);
    for (int i = 0; i < n; ++i)
      inv += fmt::format("  h{}: {{ feed: F, phase: L{} }}\n", i, ph(rng));
    Inventory iv;
    std::vector<Diagnostic> d;
    REQUIRE(load_inventory_text(inv, "r.yaml", &iv, &d));
    std::vector<NodeReading> v;
    for (auto& t : iv.targets) {
      NodeReading r;
      place_target(iv, t, &r);
      r.watts = w(rng);
      v.push_back(r);
    }
    auto rep = make_power_report(iv, v);
    for (auto& [name, f] : rep.feeds) {
      CHECK(f.spread_after <= f.spread + 1e-9);
      CHECK(f.moves.size() <= 8);
      if (!f.moves.empty()) CHECK(f.spread_after < f.spread);
    }
  }
}

TEST_CASE("prometheus label escaping and values") {
  CHECK(prometheus_escape_label(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(prometheus_escape_label("x\ny") == "x\\ny");
  CHECK(prometheus_escape_help("a\\b\nc\"") == "a\\\\b\\nc\"");
  CHECK(prometheus_value(412) == "412");
  CHECK(prometheus_value(80.5) == "80.5");
  CHECK(prometheus_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(prometheus_sample("m", {{"node", "n\"1"}, {"phase", ""}}, 1) ==
        "m{node=\"n\\\"1\",phase=\"\"} 1\n");
  CHECK(prometheus_sample("m", {}, 2) == "m 2\n");
}

TEST_CASE("prometheus exposition of a power run: no watts sample for nodes without a reading") {
  Fixture f({{"n1", 100}, {"n2", 200}});
  RunReport run;
  run.command = "power";
  std::vector<NodeReading> sel;
  for (auto& n : f.nodes)
    if (n.target->name == "n1" || n.target->name == "n2" || n.target->name == "n3") {
      run.targets.push_back(n.target);
      sel.push_back(n);
    }
  Outcome a = Outcome::success("100 W", PowerState::On);
  a.watts = 100;
  Outcome b = Outcome::success("200 W", PowerState::On);
  b.watts = 200;
  Outcome c = Outcome::failure(ErrorKind::Timeout, "timed out waiting for \"RAKP 2\"\nreally");
  run.outcomes = {a, b, c};
  auto pr = make_power_report(f.inv, run);
  std::ostringstream os;
  write_prometheus(os, run, f.inv, &pr, 1700000000.25);
  std::string s = os.str();
  CHECK(s.find("# TYPE fleetpower_power_watts gauge\n") != std::string::npos);
  CHECK(s.find("fleetpower_power_watts{node=\"n1\",circuit=\"c1\",pdu=\"p1\",feed=\"A\",phase="
               "\"L1\"} 100\n") != std::string::npos);
  CHECK(s.find("fleetpower_power_watts{node=\"n3\"") == std::string::npos);
  CHECK(s.find("fleetpower_power_reading_available{node=\"n3\",circuit=\"c1\",pdu=\"p1\",feed="
               "\"A\",phase=\"L1\"} 0\n") != std::string::npos);
  CHECK(
      s.find("fleetpower_up{node=\"n3\",circuit=\"c1\",pdu=\"p1\",feed=\"A\",phase=\"L1\"} 0\n") !=
      std::string::npos);
  CHECK(s.find("reason=\"timed out waiting for \\\"RAKP 2\\\"\\nreally\"} 1\n") !=
        std::string::npos);
  CHECK(s.find("fleetpower_circuit_power_watts{circuit=\"c1\",feed=\"A\",phase=\"L1\"} 300\n") !=
        std::string::npos);
  CHECK(s.find("fleetpower_circuit_nodes_reporting{circuit=\"c1\",feed=\"A\",phase=\"L1\"} 2\n") !=
        std::string::npos);
  CHECK(s.find("fleetpower_circuit_nodes{circuit=\"c1\",feed=\"A\",phase=\"L1\"} 3\n") !=
        std::string::npos);
  CHECK(s.find("fleetpower_scrape_timestamp_seconds{command=\"power\"} 1700000000.25\n") !=
        std::string::npos);
  // Every family's HELP comes before its TYPE and its samples, once.
  std::size_t help = 0, type = 0;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    help += line.rfind("# HELP ", 0) == 0;
    type += line.rfind("# TYPE ", 0) == 0;
  }
  CHECK(help == type);
}

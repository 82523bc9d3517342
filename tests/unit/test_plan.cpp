// SPDX-License-Identifier: GPL-3.0-or-later
// Power plan invariants on inventories of thousands of nodes (virtual clock).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <random>

#include "core/inventory.hpp"
#include "core/plan.hpp"

using namespace fleetpower;

namespace {
/// Builds an inventory: `racks` circuits spread over phases L1..L3 of two feeds.
std::string make_inventory(int racks, int per_rack, int max_starts, int max_watts, const std::string& spacing,
                           std::mt19937* rng, bool random_watts) {
  std::string s = "defaults: { protocol: test }\npower:\n  start_duration: 8s\n  start_watts_factor: 1.5\n  circuits:\n";
  for (int r = 0; r < racks; ++r)
    s += fmt::format("    c{:02}: {{ feed: {}, phase: L{}, max_concurrent_starts: {}, max_watts: {}, min_spacing: {} }}\n", r,
                     r % 2 ? "B" : "A", r % 3 + 1, max_starts, max_watts, spacing);
  s += "groups:\n";
  std::uniform_int_distribution<int> w(200, 900);
  for (int r = 0; r < racks; ++r) {
    s += fmt::format("  r{:02}:\n    hosts: r{:02}n[001-{:03}]\n    vars: {{ circuit: c{:02} }}\n", r, r, per_rack, r);
    if (!random_watts) s += "    watts: 400\n";
  }
  if (random_watts) {
    s += "hosts:\n";
    for (int r = 0; r < racks; ++r)
      for (int n = 1; n <= per_rack; ++n) s += fmt::format("  r{:02}n{:03}: {{ watts: {} }}\n", r, n, w(*rng));
  }
  return s;
}

void check_invariants(const Inventory& inv, const PowerPlan& plan, std::size_t n) {
  REQUIRE(plan.starts.size() == n);
  std::map<std::string, std::vector<const PowerPlan::Start*>> per_circuit;
  for (auto& st : plan.starts) per_circuit[st.target->var_or("circuit", "")].push_back(&st);
  const long long dur = plan.start_duration.count();
  for (auto& [c, starts] : per_circuit) {
    const Circuit& def = inv.circuits.at(c);
    // Check every instant at which the load changes: each start.
    for (auto* a : starts) {
      long long t = a->at.count();
      int count = 0;
      double load = 0;
      for (auto* b : starts)
        if (b->at.count() <= t && t < b->at.count() + dur) {
          ++count;
          load += b->start_watts;
        }
      INFO("circuit " << c << " at " << t << "ms");
      CHECK(count <= def.max_concurrent_starts);
      CHECK(load <= def.max_watts + 1e-6);
    }
    for (std::size_t i = 1; i < starts.size(); ++i)
      CHECK(starts[i]->at.count() - starts[i - 1]->at.count() >= def.min_spacing_ms);
  }
}
}  // namespace

TEST_CASE("plan: no budget exceeded at any instant, spacing kept (3000 nodes)", "[plan]") {
  std::mt19937 rng(42);
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(make_inventory(30, 100, 6, 3000, "250ms", &rng, true), "gen.yaml", &inv, &d));
  std::vector<const Target*> all;
  for (auto& t : inv.targets) all.push_back(&t);
  auto plan = make_power_plan(inv, all);
  CHECK(plan.constrained);
  CHECK(plan.problems.empty());
  check_invariants(inv, plan, 3000);
  // Each circuit can run 6 at once for 8 s each: 100 nodes take at least 16 rounds.
  CHECK(plan.duration.count() >= 16 * 8000);
}

TEST_CASE("plan: phases of a feed stay balanced within one node's load", "[plan]") {
  std::mt19937 rng(7);
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(make_inventory(6, 200, 4, 100000, "0ms", &rng, false), "gen.yaml", &inv, &d));
  std::vector<const Target*> all;
  for (auto& t : inv.targets) all.push_back(&t);
  auto plan = make_power_plan(inv, all);
  check_invariants(inv, plan, 1200);
  // After every start, the started load per phase within a feed differs by at most one node's.
  std::map<std::string, std::map<std::string, double>> started;
  const double one_node = 400 * 1.5;
  for (auto& st : plan.starts) {
    const auto& c = inv.circuits.at(st.target->var_or("circuit", ""));
    started[c.feed][c.phase] += st.start_watts;
    auto& phases = started[c.feed];
    if (phases.size() < 3) continue;
    double mx = 0, mn = 1e18;
    for (auto& [p, w] : phases) {
      mx = std::max(mx, w);
      mn = std::min(mn, w);
    }
    REQUIRE(mx - mn <= one_node + 1e-6);
  }
}

TEST_CASE("plan: a node larger than its circuit budget starts alone and is reported", "[plan]") {
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(
      "defaults: {protocol: test}\npower:\n  circuits:\n    c: { max_watts: 1000, max_concurrent_starts: 4 }\n"
      "groups:\n  g: { hosts: \"n[1-4]\", circuit: c, watts: 300 }\nhosts:\n  big: { circuit: c, watts: 2500 }\n",
      "x.yaml", &inv, &d));
  std::vector<const Target*> all;
  for (auto& t : inv.targets) all.push_back(&t);
  auto plan = make_power_plan(inv, all);
  REQUIRE(plan.problems.size() == 1);
  CHECK(plan.problems[0].find("big") != std::string::npos);
  // big starts when nothing else is starting
  Millis big_at{0};
  for (auto& st : plan.starts)
    if (st.target->name == "big") big_at = st.at;
  for (auto& st : plan.starts)
    if (st.target->name != "big")
      CHECK((st.at + plan.start_duration <= big_at || st.at >= big_at + plan.start_duration));
}

TEST_CASE("phases: nominal load, imbalance, unknown wattage not counted as zero", "[plan]") {
  Inventory inv;
  std::vector<Diagnostic> d;
  REQUIRE(load_inventory_text(
      "defaults: {protocol: test}\npower:\n  circuits:\n    a: {feed: F, phase: L1}\n    b: {feed: F, phase: L2}\n"
      "    c: {feed: F, phase: L3}\ngroups:\n  ga: {hosts: \"a[1-4]\", circuit: a, watts: 500}\n"
      "  gb: {hosts: \"b[1-2]\", circuit: b, watts: 500}\n  gc: {hosts: \"c[1-3]\", circuit: c}\n",
      "x.yaml", &inv, &d));
  std::vector<const Target*> all;
  for (auto& t : inv.targets) all.push_back(&t);
  auto r = make_phase_report(inv, all);
  REQUIRE(r.feeds.count("F"));
  auto& f = r.feeds.at("F");
  CHECK(f.phases.at("L1").watts == 2000);
  CHECK(f.phases.at("L2").watts == 1000);
  CHECK(f.phases.count("L3") == 0);
  CHECK(r.unknown_watts.size() == 3);
  CHECK(f.imbalance == Approx(1000.0 / 1500.0));
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/power_report.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/hostlist.hpp"

namespace fleetpower {

namespace json = boost::json;

namespace {

struct Member {
  std::string node;
  double watts;
  std::string circuit;
};

void add(PowerSum& s, const NodeReading& r) {
  ++s.nodes;
  if (r.watts) {
    ++s.reporting;
    s.watts += *r.watts;
  } else {
    s.missing.push_back(r.target ? r.target->name : std::string());
  }
}

std::pair<double, double> min_max(const std::map<std::string, double>& loads) {
  double mn = std::numeric_limits<double>::max(), mx = std::numeric_limits<double>::lowest();
  for (auto& [p, w] : loads) {
    mn = std::min(mn, w);
    mx = std::max(mx, w);
  }
  return {mn, mx};
}

void balance(const Inventory& inv, const std::vector<NodeReading>& nodes, FeedReport& f,
             std::size_t max_moves) {
  std::map<std::string, double> load;
  std::map<std::string, std::vector<Member>> members;
  std::map<std::string, std::map<std::string, double>> circuit_load;  // phase -> circuit -> W
  for (auto& [ph, s] : f.phases) load[ph] = s.watts;
  for (auto& n : nodes) {
    if (n.feed != f.feed || n.phase.empty() || !f.phases.count(n.phase)) continue;
    if (!n.circuit.empty()) circuit_load[n.phase][n.circuit] += n.watts.value_or(0);
    if (n.watts) members[n.phase].push_back({n.target->name, *n.watts, n.circuit});
  }
  // Declared circuits of this feed count as destinations even with no selected node on them.
  for (auto& [name, c] : inv.circuits)
    if (c.feed == f.feed && f.phases.count(c.phase)) circuit_load[c.phase].emplace(name, 0.0);

  double sum = 0;
  for (auto& [p, w] : load) sum += w;
  f.mean = load.empty() ? 0 : sum / static_cast<double>(load.size());
  auto [mn, mx] = min_max(load);
  f.spread = load.empty() ? 0 : mx - mn;
  f.imbalance = f.mean > 0 ? f.spread / f.mean : 0;
  f.spread_after = f.spread;
  if (load.size() < 2) {
    f.imbalance_after = f.imbalance;
    return;
  }
  for (std::size_t step = 0; step < max_moves; ++step) {
    auto heavy = std::max_element(load.begin(), load.end(),
                                  [](auto& a, auto& b) { return a.second < b.second; });
    auto light = std::min_element(load.begin(), load.end(),
                                  [](auto& a, auto& b) { return a.second < b.second; });
    double diff = heavy->second - light->second;
    if (diff <= 1e-9) break;
    auto& cand = members[heavy->first];
    auto best = cand.end();
    double best_gap = std::numeric_limits<double>::max();
    for (auto it = cand.begin(); it != cand.end(); ++it) {
      if (it->watts <= 0 || it->watts >= diff) continue;
      double gap = std::fabs(it->watts - diff / 2);
      if (gap < best_gap) {
        best_gap = gap;
        best = it;
      }
    }
    if (best == cand.end()) break;
    auto trial = load;
    trial[heavy->first] -= best->watts;
    trial[light->first] += best->watts;
    auto [tmn, tmx] = min_max(trial);
    double cur = f.spread_after;
    if (tmx - tmn >= cur - 1e-9) break;
    PhaseMove m;
    m.node = best->node;
    m.watts = best->watts;
    m.from_phase = heavy->first;
    m.to_phase = light->first;
    m.from_circuit = best->circuit;
    auto& dest = circuit_load[light->first];
    auto lc = std::min_element(dest.begin(), dest.end(),
                               [](auto& a, auto& b) { return a.second < b.second; });
    if (lc != dest.end()) {
      m.to_circuit = lc->first;
      lc->second += best->watts;
    }
    if (!best->circuit.empty()) circuit_load[heavy->first][best->circuit] -= best->watts;
    Member moved = *best;
    moved.circuit = m.to_circuit;
    cand.erase(best);
    members[m.to_phase].push_back(std::move(moved));
    load = std::move(trial);
    f.spread_after = tmx - tmn;
    f.moves.push_back(std::move(m));
  }
  f.imbalance_after = f.mean > 0 ? f.spread_after / f.mean : 0;
}

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string reporting_text(const PowerSum& s) { return fmt::format("{}/{}", s.reporting, s.nodes); }

json::object sum_json(const PowerSum& s) {
  json::object o;
  o["watts"] = json_number(s.watts);
  o["nodes"] = s.nodes;
  o["reporting"] = s.reporting;
  o["complete"] = s.complete();
  json::array miss;
  for (auto& m : s.missing) miss.emplace_back(m);
  o["no_reading"] = std::move(miss);
  return o;
}

}  // namespace

bool FeedReport::complete() const {
  for (auto& [p, s] : phases)
    if (!s.complete()) return false;
  return true;
}

std::string format_watts(double w) {
  double r = std::round(w);
  if (std::fabs(w - r) < 0.05) return fmt::format("{:.0f} W", r);
  return fmt::format("{:.1f} W", w);
}

void place_target(const Inventory& inv, const Target& t, NodeReading* out) {
  out->target = &t;
  out->circuit = t.var_or("circuit", "");
  out->pdu = t.var_or("pdu", "");
  out->feed = t.var_or("feed", "");
  out->phase = t.var_or("phase", "");
  if (auto it = inv.circuits.find(out->circuit); it != inv.circuits.end()) {
    if (out->phase.empty()) out->phase = it->second.phase;
    if (out->feed.empty()) out->feed = it->second.feed;
  }
}

PowerReport make_power_report(const Inventory& inv, const std::vector<NodeReading>& readings,
                              std::size_t max_moves) {
  PowerReport r;
  r.nodes = readings;
  for (auto& n : r.nodes) {
    add(r.total, n);
    if (!n.circuit.empty()) add(r.circuits[n.circuit], n);
    if (!n.pdu.empty()) add(r.pdus[n.pdu], n);
    if (n.phase.empty()) {
      r.no_phase.push_back(n.target ? n.target->name : std::string());
      continue;
    }
    auto& f = r.feeds[n.feed];
    f.feed = n.feed;
    add(f.phases[n.phase], n);
  }
  for (auto& [name, f] : r.feeds) balance(inv, r.nodes, f, max_moves);
  return r;
}

PowerReport make_power_report(const Inventory& inv, const RunReport& run, std::size_t max_moves) {
  std::vector<NodeReading> v;
  v.reserve(run.targets.size());
  for (std::size_t i = 0; i < run.targets.size(); ++i) {
    NodeReading n;
    place_target(inv, *run.targets[i], &n);
    if (i < run.outcomes.size() && run.outcomes[i].ok()) n.watts = run.outcomes[i].watts;
    v.push_back(std::move(n));
  }
  return make_power_report(inv, v, max_moves);
}

void write_power_text(std::ostream& os, const RunReport& run, const PowerReport& pr, bool expand) {
  write_text(os, run, expand);
  if (!pr.circuits.empty()) {
    os << fmt::format("\n{:<16} {:<8} {:<6} {:>12}  {}\n", "circuit", "feed", "phase", "watts",
                      "reporting");
    for (auto& [name, s] : pr.circuits) {
      std::string feed, phase;
      for (auto& n : pr.nodes)
        if (n.circuit == name) {
          feed = n.feed;
          phase = n.phase;
          break;
        }
      os << fmt::format("{:<16} {:<8} {:<6} {:>12}  {}\n", name, dash(feed), dash(phase),
                        format_watts(s.watts), reporting_text(s));
    }
  }
  if (!pr.pdus.empty()) {
    os << fmt::format("\n{:<16} {:>12}  {}\n", "pdu", "watts", "reporting");
    for (auto& [name, s] : pr.pdus)
      os << fmt::format("{:<16} {:>12}  {}\n", name, format_watts(s.watts), reporting_text(s));
  }
  for (auto& [name, f] : pr.feeds) {
    os << fmt::format("\nfeed {}:", dash(name));
    for (auto& [ph, s] : f.phases)
      os << fmt::format("  {} {} ({})", ph, format_watts(s.watts), reporting_text(s));
    os << "\n";
    if (f.phases.size() < 2) {
      os << "  one phase only: nothing to balance\n";
      continue;
    }
    os << fmt::format("  imbalance {:.1f}% (max - min {} over a mean of {}){}\n", f.imbalance * 100,
                      format_watts(f.spread), format_watts(f.mean),
                      f.complete() ? "" : "; partial: nodes without a reading are not counted");
    for (auto& m : f.moves)
      os << fmt::format("  move {} ({}) from {}{} to {}{}\n", m.node, format_watts(m.watts),
                        m.from_phase, m.from_circuit.empty() ? "" : " (" + m.from_circuit + ")",
                        m.to_phase, m.to_circuit.empty() ? "" : " (" + m.to_circuit + ")");
    if (!f.moves.empty())
      os << fmt::format("  after {} move{}: imbalance {:.1f}% (max - min {})\n", f.moves.size(),
                        f.moves.size() == 1 ? "" : "s", f.imbalance_after * 100,
                        format_watts(f.spread_after));
  }
  os << fmt::format("\ntotal: {} from {} of {} nodes reporting\n", format_watts(pr.total.watts),
                    pr.total.reporting, pr.total.nodes);
  if (!pr.total.missing.empty())
    os << fmt::format("no reading (not counted): {}\n", hostlist::fold(pr.total.missing));
  if (!pr.no_phase.empty() && !pr.feeds.empty())
    os << fmt::format("no phase in the inventory: {}\n", hostlist::fold(pr.no_phase));
}

json::object power_aggregates_json(const PowerReport& pr) {
  json::object doc;
  json::array circuits;
  for (auto& [name, s] : pr.circuits) {
    auto o = sum_json(s);
    o["circuit"] = name;
    for (auto& n : pr.nodes)
      if (n.circuit == name) {
        o["feed"] = n.feed;
        o["phase"] = n.phase;
        break;
      }
    circuits.push_back(std::move(o));
  }
  doc["circuits"] = std::move(circuits);
  json::array pdus;
  for (auto& [name, s] : pr.pdus) {
    auto o = sum_json(s);
    o["pdu"] = name;
    pdus.push_back(std::move(o));
  }
  doc["pdus"] = std::move(pdus);
  json::array feeds;
  for (auto& [name, f] : pr.feeds) {
    json::object fo;
    fo["feed"] = name;
    json::array phases;
    for (auto& [ph, s] : f.phases) {
      auto o = sum_json(s);
      o["phase"] = ph;
      phases.push_back(std::move(o));
    }
    fo["phases"] = std::move(phases);
    fo["mean_watts"] = json_number(f.mean);
    fo["spread_watts"] = json_number(f.spread);
    fo["imbalance"] = f.imbalance;
    fo["complete"] = f.complete();
    json::array moves;
    for (auto& m : f.moves) {
      json::object mo;
      mo["host"] = m.node;
      mo["watts"] = json_number(m.watts);
      mo["from_phase"] = m.from_phase;
      mo["to_phase"] = m.to_phase;
      mo["from_circuit"] = m.from_circuit;
      mo["to_circuit"] = m.to_circuit;
      moves.push_back(std::move(mo));
    }
    fo["moves"] = std::move(moves);
    fo["spread_watts_after"] = json_number(f.spread_after);
    fo["imbalance_after"] = f.imbalance_after;
    feeds.push_back(std::move(fo));
  }
  doc["feeds"] = std::move(feeds);
  doc["total"] = sum_json(pr.total);
  json::array np;
  for (auto& n : pr.no_phase) np.emplace_back(n);
  doc["no_phase"] = std::move(np);
  return doc;
}

void write_power_json(std::ostream& os, const RunReport& run, const PowerReport& pr) {
  json::object doc;
  doc["command"] = run.command;
  doc["summary"] = summary_record(run);
  json::array hosts;
  for (std::size_t i = 0; i < run.targets.size(); ++i) {
    auto rec = host_record(*run.targets[i], run.outcomes[i]);
    const auto& n = pr.nodes[i];
    rec["watts"] = n.watts ? json_number(*n.watts) : json::value(nullptr);
    if (run.outcomes[i].ok() && !n.watts)
      rec["no_reading"] =
          run.outcomes[i].reading_note.empty() ? "no reading" : run.outcomes[i].reading_note;
    rec["circuit"] = n.circuit.empty() ? json::value(nullptr) : json::value(n.circuit);
    rec["pdu"] = n.pdu.empty() ? json::value(nullptr) : json::value(n.pdu);
    rec["feed"] = n.feed.empty() ? json::value(nullptr) : json::value(n.feed);
    rec["phase"] = n.phase.empty() ? json::value(nullptr) : json::value(n.phase);
    hosts.push_back(std::move(rec));
  }
  doc["hosts"] = std::move(hosts);
  doc["power"] = power_aggregates_json(pr);
  os << json::serialize(doc) << '\n';
}

}  // namespace fleetpower

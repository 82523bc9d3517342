// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>

namespace fleetpower {

std::string prometheus_escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string prometheus_escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string prometheus_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string prometheus_sample(std::string_view name, const Labels& labels, double value) {
  std::string s(name);
  if (!labels.empty()) {
    s += '{';
    bool first = true;
    for (auto& [k, v] : labels) {
      if (!first) s += ',';
      first = false;
      s += k;
      s += "=\"";
      s += prometheus_escape_label(v);
      s += '"';
    }
    s += '}';
  }
  s += ' ';
  s += prometheus_value(value);
  s += '\n';
  return s;
}

namespace {

/// One metric family: HELP and TYPE once, then its samples (written only if it has any).
struct Family {
  std::string name, help, type = "gauge";
  std::string samples;
  void add(const Labels& l, double v) { samples += prometheus_sample(name, l, v); }
  void write(std::ostream& os) const {
    if (samples.empty()) return;
    os << "# HELP " << name << ' ' << prometheus_escape_help(help) << '\n';
    os << "# TYPE " << name << ' ' << type << '\n';
    os << samples;
  }
};

Labels node_labels(const NodeReading& n) {
  return {{"node", n.target->name},
          {"circuit", n.circuit},
          {"pdu", n.pdu},
          {"feed", n.feed},
          {"phase", n.phase}};
}

std::string clip(std::string s) {
  if (s.size() > 256) {
    s.resize(253);
    s += "...";
  }
  return s;
}

}  // namespace

void write_prometheus(std::ostream& os, const RunReport& run, const Inventory& inv,
                      const PowerReport* power, double unix_time) {
  std::vector<NodeReading> placed;
  if (!power) {
    placed.reserve(run.targets.size());
    for (auto* t : run.targets) {
      NodeReading n;
      place_target(inv, *t, &n);
      placed.push_back(std::move(n));
    }
  }
  const std::vector<NodeReading>& nodes = power ? power->nodes : placed;

  Family up{"fleetpower_up", "1 if the node's BMC answered this run, 0 if the operation failed"};
  Family state{"fleetpower_power_state",
               "Power state read from the BMC: 1 on (or powering on), 0 off (or powering off); "
               "absent when unknown"};
  Family err{"fleetpower_last_error",
             "1 for each node whose operation failed in this run, labelled with the error kind and "
             "the reason"};
  Family watts{"fleetpower_power_watts",
               "Current draw reported by the node's BMC (DCMI or Redfish); absent when the BMC "
               "has no reading"};
  Family avail{"fleetpower_power_reading_available",
               "1 if the BMC reported a power reading, 0 if it answered without one or failed"};
  for (std::size_t i = 0; i < run.targets.size() && i < nodes.size(); ++i) {
    const Outcome& o = run.outcomes[i];
    auto l = node_labels(nodes[i]);
    up.add(l, o.ok() ? 1 : 0);
    if (o.state != PowerState::Unknown)
      state.add(l, (o.state == PowerState::On || o.state == PowerState::PoweringOn) ? 1 : 0);
    if (!o.ok()) {
      Labels el = l;
      el.emplace_back("kind", std::string(error_kind_name(o.error)));
      el.emplace_back("reason", clip(o.reason));
      err.add(el, 1);
    }
    if (power) {
      avail.add(l, nodes[i].watts ? 1 : 0);
      if (nodes[i].watts) watts.add(l, *nodes[i].watts);
    }
  }
  up.write(os);
  state.write(os);
  err.write(os);
  if (power) {
    watts.write(os);
    avail.write(os);
    Family cw{"fleetpower_circuit_power_watts",
              "Sum of the readings of the nodes on a circuit (reporting nodes only)"};
    Family cn{"fleetpower_circuit_nodes", "Selected nodes on a circuit"};
    Family cr{"fleetpower_circuit_nodes_reporting", "Nodes on a circuit that reported a reading"};
    for (auto& [name, s] : power->circuits) {
      std::string feed, phase;
      for (auto& n : power->nodes)
        if (n.circuit == name) {
          feed = n.feed;
          phase = n.phase;
          break;
        }
      Labels l{{"circuit", name}, {"feed", feed}, {"phase", phase}};
      cw.add(l, s.watts);
      cn.add(l, static_cast<double>(s.nodes));
      cr.add(l, static_cast<double>(s.reporting));
    }
    cw.write(os);
    cn.write(os);
    cr.write(os);
    Family pw{"fleetpower_pdu_power_watts",
              "Sum of the readings of the nodes on a PDU (reporting nodes only)"};
    Family pn{"fleetpower_pdu_nodes", "Selected nodes on a PDU"};
    Family pr{"fleetpower_pdu_nodes_reporting", "Nodes on a PDU that reported a reading"};
    for (auto& [name, s] : power->pdus) {
      Labels l{{"pdu", name}};
      pw.add(l, s.watts);
      pn.add(l, static_cast<double>(s.nodes));
      pr.add(l, static_cast<double>(s.reporting));
    }
    pw.write(os);
    pn.write(os);
    pr.write(os);
    Family fw{"fleetpower_phase_power_watts",
              "Sum of the readings on a phase of a feed (reporting nodes only)"};
    Family fn{"fleetpower_phase_nodes", "Selected nodes on a phase of a feed"};
    Family fr{"fleetpower_phase_nodes_reporting",
              "Nodes on a phase of a feed that reported a reading"};
    Family fi{"fleetpower_feed_imbalance_ratio",
              "Imbalance between the phases of a feed: (max - min) / mean of the phase sums"};
    Family fs{"fleetpower_feed_spread_watts", "max - min of the phase sums of a feed"};
    for (auto& [name, f] : power->feeds) {
      for (auto& [ph, s] : f.phases) {
        Labels l{{"feed", name}, {"phase", ph}};
        fw.add(l, s.watts);
        fn.add(l, static_cast<double>(s.nodes));
        fr.add(l, static_cast<double>(s.reporting));
      }
      if (f.phases.size() >= 2) {
        fi.add({{"feed", name}}, f.imbalance);
        fs.add({{"feed", name}}, f.spread);
      }
    }
    fw.write(os);
    fn.write(os);
    fr.write(os);
    fi.write(os);
    fs.write(os);
  }
  Family ts{"fleetpower_scrape_timestamp_seconds", "When this fleetpower run ended (Unix time)"};
  ts.add({{"command", run.command}}, std::round(unix_time * 1000) / 1000);
  ts.write(os);
  Family du{"fleetpower_scrape_duration_seconds", "How long this fleetpower run took"};
  du.add({{"command", run.command}}, static_cast<double>(run.elapsed.count()) / 1000.0);
  du.write(os);
}

}  // namespace fleetpower

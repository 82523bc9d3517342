// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: configurable power readings (Redfish Power / EnvironmentMetrics, IPMI DCMI).
//
//   SPEC := RULE ("," RULE)*      RULE := SEL ":" VALUE      SEL := N | N-M | "*"
//
// --watts / --ipmi-watts VALUE: watts drawn while on (a number), or for IPMI "none" (no DCMI:
// 0xC1) and "inactive" (DCMI answers with power measurement inactive).  --power-resource VALUE:
// power | env | both | none | null (Redfish: which resources the chassis links, see README).
#include <charconv>
#include <cmath>

#include "sim.hpp"

namespace fleetpower::sim {

namespace {
bool parse_index(std::string_view s, std::size_t* out) {
  std::size_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v == 0) return false;
  *out = v;
  return true;
}
}  // namespace

bool parse_value_rules(std::string_view spec, std::vector<ValueRule>* out, std::string* err) {
  out->clear();
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view rule = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (rule.empty()) continue;
    auto colon = rule.find(':');
    if (colon == std::string_view::npos || colon + 1 >= rule.size()) {
      *err = "rule '" + std::string(rule) + "' is not SEL:VALUE";
      return false;
    }
    std::string_view sel = rule.substr(0, colon);
    ValueRule r;
    r.value = std::string(rule.substr(colon + 1));
    if (sel == "*") {
      r.first = 1;
      r.last = 0;
    } else if (auto dash = sel.find('-'); dash != std::string_view::npos) {
      if (!parse_index(sel.substr(0, dash), &r.first) ||
          !parse_index(sel.substr(dash + 1), &r.last) || r.last < r.first) {
        *err = "bad selector '" + std::string(sel) + "'";
        return false;
      }
    } else {
      if (!parse_index(sel, &r.first)) {
        *err = "bad selector '" + std::string(sel) + "'";
        return false;
      }
      r.last = r.first;
    }
    out->push_back(std::move(r));
  }
  return true;
}

bool parse_watts_value(const std::string& v, double* out) {
  double w = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), w);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || !std::isfinite(w) ||
      w < 0 || w > 100000)
    return false;
  *out = w;
  return true;
}

namespace {
/// A whole number of watts as a JSON integer ("512", not "5.12E2"), else a double.
boost::json::value jnum(double w) {
  if (w == std::floor(w) && std::fabs(w) < 1e15) return static_cast<std::int64_t>(w);
  return w;
}
}  // namespace

double default_watts(std::size_t bmc0, std::size_t sys) {
  // 180..420 W, spread deterministically over the fleet (a mix of busy and idle servers).
  return 180.0 + static_cast<double>((bmc0 * 7919 + sys * 104729 + 17) % 241);
}

double standby_watts(double on_watts) { return std::round(on_watts / 40.0); }

boost::json::object power_resource_json(const std::string& path, const std::optional<double>& w,
                                        double on_watts) {
  namespace json = boost::json;
  json::value reading = w ? jnum(*w) : json::value(nullptr);
  return json::object{
      {"@odata.id", path},
      {"@odata.type", "#Power.v1_7_1.Power"},
      {"Id", "Power"},
      {"Name", "Power"},
      {"PowerControl",
       json::array{json::object{
           {"@odata.id", path + "#/PowerControl/0"},
           {"MemberId", "0"},
           {"Name", "System Power Control"},
           {"PowerConsumedWatts", reading},
           {"PowerCapacityWatts", jnum(std::ceil(on_watts * 2 / 100) * 100)},
           {"PowerMetrics", json::object{{"IntervalInMin", 1}, {"AverageConsumedWatts", reading}}},
           {"Status", json::object{{"State", "Enabled"}, {"Health", "OK"}}}}}}};
}

boost::json::object environment_metrics_json(const std::string& path, double w) {
  namespace json = boost::json;
  return json::object{{"@odata.id", path},
                      {"@odata.type", "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics"},
                      {"Id", "EnvironmentMetrics"},
                      {"Name", "Chassis Environment Metrics"},
                      {"PowerWatts", json::object{{"Reading", jnum(w)}}}};
}

}  // namespace fleetpower::sim

// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/output.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "core/duration.hpp"
#include "core/hostlist.hpp"

namespace fleetpower {

namespace json = boost::json;

ExitCode exit_code_for(const RunReport& r) {
  if (r.interrupted) return ExitCode::Interrupted;
  std::size_t ok = 0;
  for (const auto& o : r.outcomes) ok += o.ok() ? 1 : 0;
  if (ok == r.outcomes.size()) return ExitCode::Ok;
  if (ok == 0) return ExitCode::AllFailed;
  return ExitCode::SomeFailed;
}

std::vector<std::pair<std::string, std::string>> fold_results(const RunReport& r) {
  std::vector<std::string> texts;
  std::map<std::string, std::vector<std::string>> by_text;
  for (std::size_t i = 0; i < r.targets.size(); ++i) {
    auto text = outcome_text(r.outcomes[i]);
    auto& v = by_text[text];
    if (v.empty()) texts.push_back(text);
    v.push_back(r.targets[i]->name);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& t : texts) out.emplace_back(hostlist::fold(by_text[t]), t);
  return out;
}

void write_text(std::ostream& os, const RunReport& r, bool expand) {
  if (expand) {
    for (std::size_t i = 0; i < r.targets.size(); ++i)
      os << r.targets[i]->name << ": " << outcome_text(r.outcomes[i]) << '\n';
    return;
  }
  for (auto& [hosts, text] : fold_results(r)) os << hosts << ": " << text << '\n';
}

void write_facts(std::ostream& os, const RunReport& r) {
  for (std::size_t i = 0; i < r.targets.size(); ++i) {
    const auto& o = r.outcomes[i];
    os << r.targets[i]->name << ": " << outcome_text(o);
    for (auto& [k, v] : o.facts) os << "\n    " << k << ": " << v;
    os << '\n';
  }
}

json::value json_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return static_cast<std::int64_t>(v);
  return v;
}

json::object host_record(const Target& t, const Outcome& o) {
  json::object rec;
  rec["host"] = t.name;
  rec["bmc"] = t.bmc;
  rec["protocol"] = t.protocol;
  rec["ok"] = o.ok();
  rec["result"] = o.ok() ? json::value(o.result.empty() ? "ok" : o.result) : json::value(nullptr);
  rec["state"] = o.state == PowerState::Unknown ? json::value(nullptr) : json::value(power_state_name(o.state));
  rec["error"] = o.ok() ? json::value(nullptr) : json::value(error_kind_name(o.error));
  rec["reason"] = o.ok() ? json::value(nullptr) : json::value(o.reason);
  rec["elapsed_ms"] = o.elapsed.count();
  if (o.retransmits) rec["retransmits"] = o.retransmits;
  if (o.watts) rec["watts"] = json_number(*o.watts);
  if (!o.facts.empty()) {
    json::object f;
    for (auto& [k, v] : o.facts) f[k] = v;
    rec["facts"] = std::move(f);
  }
  return rec;
}

json::object summary_record(const RunReport& r) {
  json::object s;
  std::size_t ok = 0;
  json::object by_result;
  json::object by_error;
  for (const auto& o : r.outcomes) {
    if (o.ok()) {
      ++ok;
      auto key = o.result.empty() ? std::string("ok") : o.result;
      by_result[key] = by_result.contains(key) ? by_result[key].as_int64() + 1 : 1;
    } else {
      auto key = std::string(error_kind_name(o.error));
      by_error[key] = by_error.contains(key) ? by_error[key].as_int64() + 1 : 1;
    }
  }
  s["total"] = r.outcomes.size();
  s["ok"] = ok;
  s["failed"] = r.outcomes.size() - ok;
  s["by_result"] = std::move(by_result);
  s["by_error"] = std::move(by_error);
  s["elapsed_ms"] = r.elapsed.count();
  s["interrupted"] = r.interrupted;
  s["exit_code"] = static_cast<int>(exit_code_for(r));
  return s;
}

void write_json(std::ostream& os, const RunReport& r) {
  json::object doc;
  doc["command"] = r.command;
  doc["summary"] = summary_record(r);
  json::array hosts;
  hosts.reserve(r.targets.size());
  for (std::size_t i = 0; i < r.targets.size(); ++i) hosts.push_back(host_record(*r.targets[i], r.outcomes[i]));
  doc["hosts"] = std::move(hosts);
  os << json::serialize(doc) << '\n';
}

std::string summary_line(const RunReport& r) {
  std::size_t ok = 0, interrupted = 0, skipped = 0;
  for (const auto& o : r.outcomes) {
    ok += o.ok();
    interrupted += o.error == ErrorKind::Interrupted;
    skipped += o.error == ErrorKind::NotAttempted;
  }
  std::size_t failed = r.outcomes.size() - ok - interrupted - skipped;
  std::string s = fmt::format("{} target{}: {} ok, {} failed", r.outcomes.size(), r.outcomes.size() == 1 ? "" : "s", ok, failed);
  if (interrupted) s += fmt::format(", {} interrupted", interrupted);
  if (skipped) s += fmt::format(", {} not attempted", skipped);
  s += fmt::format(" in {}", format_duration(r.elapsed));
  return s;
}

}  // namespace fleetpower

// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sstream>

#include "core/output.hpp"

using namespace fleetpower;

namespace {
struct Run {
  std::vector<Target> targets;
  RunReport report;
  void add(const std::string& name, Outcome o) {
    Target t;
    t.name = name;
    t.protocol = "ipmi";
    targets.push_back(t);
    report.outcomes.push_back(std::move(o));
  }
  RunReport& finish() {
    report.targets.clear();
    for (auto& t : targets) report.targets.push_back(&t);
    return report;
  }
};
}  // namespace

TEST_CASE("text output folds identical results like ipmipower", "[output]") {
  Run r;
  for (int i = 1; i <= 120; ++i) r.add(fmt::format("node{:03}", i), Outcome::success("on", PowerState::On));
  for (int i = 121; i <= 128; ++i) r.add(fmt::format("node{:03}", i), Outcome::success("off", PowerState::Off));
  r.add("node130", Outcome::failure(ErrorKind::Timeout, "timed out waiting for RAKP 2 (check the password)"));
  std::ostringstream os;
  write_text(os, r.finish(), false);
  CHECK(os.str() ==
        "node[001-120]: on\nnode[121-128]: off\nnode130: error: timed out waiting for RAKP 2 (check the password)\n");
  std::ostringstream ex;
  write_text(ex, r.report, true);
  const std::string lines = ex.str();
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 129);
  CHECK(exit_code_for(r.report) == ExitCode::SomeFailed);
}

TEST_CASE("exit codes by result class", "[output]") {
  Run ok;
  ok.add("a", Outcome::success("on"));
  CHECK(exit_code_for(ok.finish()) == ExitCode::Ok);
  Run bad;
  bad.add("a", Outcome::failure(ErrorKind::Auth, "x"));
  bad.add("b", Outcome::failure(ErrorKind::NoResponse, "y"));
  CHECK(exit_code_for(bad.finish()) == ExitCode::AllFailed);
  bad.report.interrupted = true;
  CHECK(exit_code_for(bad.report) == ExitCode::Interrupted);
}

TEST_CASE("JSON document has a summary and per-host records", "[output]") {
  Run r;
  r.add("a", Outcome::success("on", PowerState::On));
  r.add("b", Outcome::failure(ErrorKind::Auth, "unknown user \"x\" (RAKP 2 status 0x0d)"));
  r.report.command = "status";
  std::ostringstream os;
  write_json(os, r.finish());
  boost::system::error_code ec;
  auto v = boost::json::parse(os.str(), ec);
  REQUIRE_FALSE(ec);
  auto& doc = v.as_object();
  CHECK(doc.at("command").as_string() == "status");
  CHECK(doc.at("summary").at("total").as_int64() == 2);
  CHECK(doc.at("summary").at("failed").as_int64() == 1);
  CHECK(doc.at("summary").at("exit_code").as_int64() == 1);
  auto& hosts = doc.at("hosts").as_array();
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].at("state").as_string() == "on");
  CHECK(hosts[1].at("error").as_string() == "auth");
  CHECK(hosts[1].at("reason").as_string() == "unknown user \"x\" (RAKP 2 status 0x0d)");
}

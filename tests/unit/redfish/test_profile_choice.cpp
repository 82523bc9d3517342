// SPDX-License-Identifier: GPL-3.0-or-later
// ResetType choices under a vendor profile: the generic profile changes nothing, preferences,
// avoided types, cycle modes and the success envelope do what plugins/README.md says.
#include <catch2/catch.hpp>

#include "plugin/registry.hpp"
#include "transport/redfish/model.hpp"

using namespace fleetpower;
using namespace fleetpower::redfish;

namespace {
using List = std::optional<std::vector<std::string>>;
const List kAll = std::vector<std::string>{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
                                           "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"};
const List kNoCycle = std::vector<std::string>{"On", "ForceOff", "GracefulRestart"};
}  // namespace

TEST_CASE("profile choice: the built-in generic profile equals the generic choice") {
  plugin::Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_builtin(&d));
  const auto& gp = r.find("generic-redfish")->profile.redfish;
  const plugin::RedfishProfile def;
  for (Action a : {Action::On, Action::Off, Action::Soft, Action::Reset, Action::Nmi, Action::Cycle})
    for (const List& l : {kAll, kNoCycle, List{}, List{std::vector<std::string>{}}}) {
      CHECK(choose_reset_type(a, l, gp) == choose_reset_type(a, l));
      CHECK(choose_reset_type(a, l, def) == choose_reset_type(a, l));
    }
  CHECK(choose_on_type(kNoCycle, gp) == choose_on_type(kNoCycle));
}

TEST_CASE("profile choice: preferences, avoided types, cycle and restart modes") {
  plugin::RedfishProfile p;
  p.reset[Action::Off] = {"GracefulShutdown", "ForceOff"};
  CHECK(choose_reset_type(Action::Off, kAll, p) == "GracefulShutdown");
  CHECK(choose_reset_type(Action::Off, kNoCycle, p) == "ForceOff");
  CHECK(choose_reset_type(Action::Off, List{}, p) == "GracefulShutdown");
  p.avoid_reset_types = {"GracefulShutdown"};
  CHECK(choose_reset_type(Action::Off, kAll, p) == "ForceOff");
  CHECK(choose_reset_type(Action::Reset, kNoCycle, p) == "GracefulRestart");
  p.graceful_restart = plugin::GracefulRestartMode::Unsupported;
  CHECK_FALSE(choose_reset_type(Action::Reset, kNoCycle, p));
  CHECK(choose_reset_type(Action::Cycle, kAll, p) == "PowerCycle");
  p.cycle = plugin::CycleMode::OffWaitOn;
  CHECK_FALSE(choose_reset_type(Action::Cycle, kAll, p));
  p.cycle = plugin::CycleMode::PowerCycle;
  CHECK(choose_reset_type(Action::Cycle, kNoCycle, p) == "PowerCycle");
  CHECK(choose_reset_type(Action::Cycle, List{}, p) == "PowerCycle");
}

TEST_CASE("profile choice: success inside an error envelope") {
  ParseLimits lim;
  CHECK(is_success_envelope(
      R"({"error":{"code":"iLO.0.10.ExtendedInfo","@Message.ExtendedInfo":[{"MessageId":"Base.1.4.Success"}]}})", lim));
  CHECK_FALSE(is_success_envelope(
      R"({"error":{"@Message.ExtendedInfo":[{"MessageId":"Base.1.4.Success"},{"MessageId":"Base.1.4.ActionNotSupported"}]}})",
      lim));
  CHECK_FALSE(is_success_envelope(R"({"error":{"message":"nope"}})", lim));
  CHECK_FALSE(is_success_envelope("not json", lim));
}

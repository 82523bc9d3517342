// SPDX-License-Identifier: GPL-3.0-or-later
// The backend against real OpenIPMI ipmi_sim BMCs on loopback (127.77.x.y, port 623).
#include <catch2/catch.hpp>

#include "sim_fixture.hpp"

using namespace fptest;
using namespace fleetpower;

namespace {
std::string fact(const Outcome& o, const std::string& k) {
  for (auto& [a, b] : o.facts)
    if (a == k) return b;
  return {};
}
}  // namespace

TEST_CASE("ipmi_sim: status, on, off against a real ipmi_sim", "[ipmisim]") {
  if (!have_ipmi_sim()) return;
  SimBmc sim("127.77.0.1");
  REQUIRE(sim.running());
  REQUIRE(wait_ready(sim));

  sim.set_power(false);
  auto [st, n] = run_op(make_op(sim.addr(), Action::Status));
  INFO(outcome_text(st));
  CHECK(n == 1);
  REQUIRE(st.ok());
  CHECK(st.result == "off");
  CHECK(st.state == PowerState::Off);
  CHECK(fact(st, "cipher_suite") == "3");
}

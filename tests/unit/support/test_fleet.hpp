// SPDX-License-Identifier: GPL-3.0-or-later
// A fleet of `protocol: test` targets for the engine's unit tests.
#pragma once

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "core/scheduler.hpp"

namespace fleetpower::testing {

struct TestFleet {
  std::vector<Target> targets;
  Credential cred{"none", "", Secret(), Secret()};

  /// n targets named n000.. (`width` digits), each with `vars`.
  explicit TestFleet(std::size_t n = 0, const std::map<std::string, std::string>& vars = {}, int width = 3) {
    targets.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      Target t;
      t.name = fmt::format("n{:0{}}", i, width);
      t.protocol = "test";
      t.vars = vars;
      targets.push_back(std::move(t));
    }
  }
  /// One job per target, all with the same action.
  std::vector<Job> jobs(Action a = Action::Status) const {
    std::vector<Job> out;
    out.reserve(targets.size());
    for (auto& t : targets) {
      Job j;
      j.target = &t;
      j.credential = &cred;
      j.request.action = a;
      out.push_back(j);
    }
    return out;
  }
};

}  // namespace fleetpower::testing

// SPDX-License-Identifier: GPL-3.0-or-later
// Redfish JSON handling: the bounded parser, then every model parser the engine applies to a
// 200 body (service root, collection + system selection, system, ActionInfo, manager, task,
// error bodies) and the decisions taken from them (vendor, reset type choice).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "transport/redfish/model.hpp"

namespace rf = fleetpower::redfish;
using fleetpower::Action;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  rf::ParseLimits lim;
  lim.max_bytes = 64 * 1024;  // small, so oversized bodies are exercised too
  lim.max_depth = 32;
  (void)rf::error_message(body, lim);
  boost::json::value v;
  std::string err;
  if (!rf::parse_json(body, lim, v, &err)) {
    if (err.empty()) std::abort();
    return 0;
  }
  rf::ServiceRoot root;
  const bool have_root = rf::parse_service_root(v, root, &err);
  std::vector<std::string> members;
  if (rf::parse_collection(v, members, &err)) {
    std::string chosen;
    rf::select_system(members, nullptr, chosen, &err);
    std::string sel = "1";
    rf::select_system(members, &sel, chosen, &err);
    if (!members.empty()) rf::select_system(members, &members.back(), chosen, &err);
  }
  rf::SystemInfo sys;
  if (rf::parse_system(v, sys, &err)) {
    for (Action a : {Action::On, Action::Off, Action::Cycle, Action::Reset, Action::Soft,
                     Action::Nmi})
      (void)rf::choose_reset_type(a, sys.reset_allowed);
    (void)rf::choose_on_type(sys.reset_allowed);
  }
  std::vector<std::string> allowed;
  if (rf::parse_reset_action_info(v, allowed, &err)) {
    std::optional<std::vector<std::string>> a(allowed);
    for (Action act : {Action::On, Action::Off, Action::Cycle, Action::Reset})
      (void)rf::choose_reset_type(act, a);
  }
  (void)rf::clean_reset_list(v);
  rf::ManagerInfo mgr;
  const bool have_mgr = rf::parse_manager(v, mgr, &err);
  if (have_root) (void)rf::detect_vendor(root, have_mgr ? &mgr : nullptr);
  rf::TaskInfo task;
  (void)rf::parse_task(v, task);
  if (auto* s = v.if_string()) {
    (void)rf::parse_power_state(*s);
    (void)rf::normalize_fingerprint(*s);
    (void)rf::parse_retry_after(*s);
  }
  return 0;
}

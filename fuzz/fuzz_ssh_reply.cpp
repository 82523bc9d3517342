// SPDX-License-Identifier: GPL-3.0-or-later
// SSH device-reply matching: a device's reply (up to the session's 64 KiB reply limit) judged
// against every built-in profile's patterns for an action, as the SSH backend does after the
// last command, plus the shell-mode prompt check and the sanitizer used for reasons.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "transport/ssh/profile.hpp"

namespace sh = fleetpower::ssh;
using fleetpower::Action;

namespace {
const sh::ProfileSet& profiles() {
  static const sh::ProfileSet set;
  return set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024 + 3) return 0;  // the session refuses larger replies
  fpfuzz::Input in(data, size);
  const auto names = profiles().names();
  if (names.empty()) std::abort();
  const sh::Profile* p = profiles().find(names[in.u8() % names.size()]);
  if (!p) std::abort();
  static constexpr Action kActions[] = {Action::Status, Action::On,  Action::Off,
                                        Action::Cycle,  Action::Reset, Action::Soft};
  const Action action = kActions[in.u8() % (sizeof kActions / sizeof kActions[0])];
  const int exit_status = static_cast<int>(in.u8()) - 1;
  auto rest = in.rest();
  std::string_view reply(reinterpret_cast<const char*>(rest.data()), rest.size());
  (void)sh::ends_with_prompt(*p, reply);
  (void)sh::sanitize(reply);
  const sh::ActionSpec* a = p->action(action);
  if (!a) return 0;
  std::map<std::string, std::string> vars{{"outlet", "3"}, {"system", "1"}};
  sh::Bound b;
  std::string err;
  if (!sh::bind_params_map(*p, *a, vars, &b, &err)) return 0;
  sh::Verdict v = sh::judge(*p, action, *a, b, reply, exit_status);
  if (v.error == fleetpower::ErrorKind::Internal) std::abort();  // built-in profiles are valid
  if (v.detail.size() > 200) std::abort();                       // reasons stay one short line
  return 0;
}

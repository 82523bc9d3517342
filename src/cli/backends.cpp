// SPDX-License-Identifier: GPL-3.0-or-later
// The one place where transports are wired into the CLI.
#include <spdlog/spdlog.h>

#include "cli/common.hpp"
#include "core/test_backend.hpp"
#if FLEETPOWER_HAVE_IPMI
#include "transport/ipmi/ipmi_backend.hpp"
#endif
#if FLEETPOWER_HAVE_REDFISH
#include "transport/redfish/redfish_backend.hpp"
#endif
#if FLEETPOWER_HAVE_SSH
#include "transport/ssh/ssh_backend.hpp"
#endif

namespace fleetpower::cli {

void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g) {
  reg.add("test", std::make_unique<TestBackend>(ex));
#if FLEETPOWER_HAVE_IPMI
  reg.add("ipmi", ipmi::make_backend(ex));
#endif
#if FLEETPOWER_HAVE_REDFISH
  redfish::Options ro;
  ro.ca_file = g.ca_file;
  ro.insecure = g.insecure;
  if (g.insecure) spdlog::warn("--insecure: BMC certificates are NOT verified");
  reg.add("redfish", redfish::make_backend(ex, ro));
#endif
#if FLEETPOWER_HAVE_SSH
  ssh::Options so;
  so.profile_dirs = g.ssh_profile_dirs;
  ssh::LoadReport report;
  reg.add("ssh", ssh::make_backend(ex, so, &report));
  for (auto& e : report.errors) spdlog::error("SSH profile: {}", e);
#endif
  (void)g;
}

}  // namespace fleetpower::cli

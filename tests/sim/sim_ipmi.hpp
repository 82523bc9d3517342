// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: the IPMI 2.0 (RMCP+) personality.  N BMCs, one UDP socket each, all on one
// Asio event loop; cipher suites 3 and 17; an in-process power model; fault knobs.
#pragma once

#include <memory>
#include <string>

#include "sim.hpp"

namespace boost::asio {
class io_context;
}

namespace fleetpower::sim {

struct IpmiConfig {
  std::size_t count = 0;
  std::string address_base = "127.24.0.1";
  unsigned port = 623;
  std::string state_dir;
  std::string inventory_out, credentials_out;
  std::string faults;  ///< "3:hang,5:latency=2s,7-9:busy=2,*:dup-exec" (see README)
  std::string username = "admin";
  std::string password;  ///< from $FLEETPOWER_SIM_PASSWORD or random
  std::string host_prefix = "ipmi";
  std::string initial_power = "off";  ///< on | off
  Millis cycle_delay{1000};           ///< power cycle: off, then on after this
  Millis soft_delay{1000};            ///< soft (ACPI) shutdown takes this long
  int session_limit = 32;             ///< sessions per BMC
  Millis session_timeout{60000};      ///< idle session expiry
  bool quiet = false;
  std::vector<std::string> vendors;  ///< vendor personalities (Get Device ID), round-robin
  std::string watts;  ///< --ipmi-watts SPEC: watts while on | none (no DCMI) | inactive
};

class IpmiSim;

/// Binds every BMC's socket on `ioc` and writes the inventory/credentials; the caller runs the
/// loop.  Returns nullptr with *err on failure.
std::shared_ptr<IpmiSim> ipmi_start(boost::asio::io_context& ioc, const IpmiConfig& cfg,
                                    std::string* err);
/// Close sockets and write the final state (call on the loop's thread, or after it stopped).
void ipmi_stop(IpmiSim& sim);
/// Stand-alone: runs an IPMI-only simulator until SIGTERM/SIGINT.  Returns the exit code.
int run_ipmi_server(const IpmiConfig& cfg);

}  // namespace fleetpower::sim

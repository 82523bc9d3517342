// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: command line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "sim.hpp"
#include "sim_ipmi.hpp"

namespace {

const char* kUsage = R"(usage: fleetpower-sim --redfish N --state-dir DIR [options]

Serves N simulated Redfish BMCs from one process (one event loop), over HTTPS with a CA it
generates (DIR/ca.pem), or plain HTTP with --http.  Prints "ready" on stdout once every BMC
listens; runs until SIGTERM/SIGINT.

  --redfish N             number of BMCs (1..20000)
  --address-base ADDR     first loopback address (default 127.20.0.1); one address per BMC,
                          incremented, skipping .0 and .255
  --port P                TCP port (default 443)
  --port-per-bmc          all BMCs on ADDR, ports P, P+1, ... instead of one address each
  --mockup DIR|NAME       tree to serve: a mockup directory (short form <dir>/<path>/index.json)
                          or a built-in personality: rackmount (default), blade.  Repeatable:
                          BMCs are split into contiguous blocks, one per tree
  --vendor NAME           every BMC gets vendor personality NAME (generic, dell, hpe, hpe-ilo4,
                          hpe-ilo6, supermicro, lenovo, openbmc, ami, cray): a vendor tree plus
                          that BMC family's quirks (see README); IPMI BMCs get its Get Device ID
  --vendor-mix A,B,...    vendor personalities round-robin: BMC i gets the (i mod n)-th
  --mockup-root DIR       where vendor trees are read (default $FLEETPOWER_MOCKUPS, else the
                          shared/redfish-mockups folder beside the source tree)
  --inventory-vendors     write `vendor: <plugin>` into each inventory group (default: none, so
                          fleetpower detects the vendor)
  --http                  plain HTTP instead of HTTPS
  --inventory-out FILE    write a fleetpower inventory for the fleet
  --credentials-out FILE  write the credentials file (mode 0600; entry "sim")
  --state-dir DIR         events.jsonl, state.json, bmcs.tsv, ca.pem, control FIFO
  --faults SPEC           fault knobs, e.g. "3:hang,5:latency=2s,7-9:http500+times=2" (see README)
  --power-on-delay DUR    PoweringOn duration (default 2s)
  --power-off-delay DUR   PoweringOff duration of a graceful shutdown (default 2s)
  --initial-power P       tree (default) | on | off
  --session-limit K       sessions per BMC (default 16)
  --session-timeout DUR   idle session expiry (default 10m)
  --host-prefix P         node names P0001... (default rf)
  --username U            account name (default admin); the password comes from
                          $FLEETPOWER_SIM_PASSWORD or is generated
  --max-conns-per-bmc K   default 64
  --idle-timeout DUR      keep-alive idle timeout (default 60s)
  --hang-timeout DUR      how long hung connections are held (default 10m)
  --quiet                 no start-up line on stderr
  --watts SPEC            draw while on per BMC, e.g. "1-10:350,11:0" (default: 180..420 W,
                          deterministic per BMC); off: watts/40.  Written to DIR/power.tsv
  --power-resource SPEC   what each chassis offers: power (default: Power/PowerControl),
                          env (EnvironmentMetrics), both, subsystem (PowerSubsystem with two
                          supplies), none, null (PowerConsumedWatts null)

IPMI 2.0 personality (RMCP+, cipher suites 3 and 17; see README):
  --ipmi N                number of IPMI BMCs (0..20000); with --redfish 0 (or no --redfish)
                          the process is IPMI-only and --inventory-out/--credentials-out
                          describe the IPMI fleet
  --ipmi-address-base A   first address (default 127.24.0.1), one UDP socket per BMC
  --ipmi-port P           UDP port (default 623)
  --ipmi-faults SPEC      e.g. "2:hang,3:latency=2s,4:busy=2,5:wrong-sid,6:bad-integrity,\n"
    "                          7:status-operator,*:dup-exec"
  --ipmi-inventory-out F  with --redfish M too: the IPMI inventory (and --ipmi-credentials-out)
  --ipmi-cycle-delay DUR  power cycle: off, then on after DUR (default 1s)
  --ipmi-initial-power P  on | off (default off)
  --ipmi-watts SPEC       DCMI Get Power Reading per BMC: watts while on (default as --watts),
                          none (no DCMI: 0xC1), inactive (measurement not active);
                          written to DIR/ipmi-power.tsv
)";

bool need(int& i, int argc, char** argv, std::string* out) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "fleetpower-sim: %s needs a value\n", argv[i]);
    return false;
  }
  *out = argv[++i];
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fleetpower::sim;
  Config cfg;
  IpmiConfig icfg;
  bool redfish_given = false;
  std::string ipmi_inv, ipmi_cred;
  std::string v;
  auto dur = [&](const char* opt, Millis* out) {
    if (!parse_duration(v, out)) {
      std::fprintf(stderr, "fleetpower-sim: %s: bad duration '%s' (e.g. 500ms, 2s)\n", opt,
                   v.c_str());
      return false;
    }
    return true;
  };
  auto num = [&](const char* opt, long lo, long hi, long* out) {
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < lo || n > hi) {
      std::fprintf(stderr, "fleetpower-sim: %s: expected a number in %ld..%ld\n", opt, lo, hi);
      return false;
    }
    *out = n;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    // --opt=value form
    std::string inline_val;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0)
      if (auto eq = a.find('='); eq != std::string_view::npos) {
        inline_val = std::string(a.substr(eq + 1));
        a = a.substr(0, eq);
        has_inline = true;
      }
    auto val = [&]() {
      if (has_inline) {
        v = inline_val;
        return true;
      }
      return need(i, argc, argv, &v);
    };
    long n = 0;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--redfish") {
      if (!val() || !num("--redfish", 0, 20000, &n)) return 2;
      cfg.count = static_cast<std::size_t>(n);
      redfish_given = true;
    } else if (a == "--ipmi") {
      if (!val() || !num("--ipmi", 0, 20000, &n)) return 2;
      icfg.count = static_cast<std::size_t>(n);
    } else if (a == "--ipmi-address-base") {
      if (!val()) return 2;
      icfg.address_base = v;
    } else if (a == "--ipmi-port") {
      if (!val() || !num("--ipmi-port", 1, 65535, &n)) return 2;
      icfg.port = static_cast<unsigned>(n);
    } else if (a == "--ipmi-faults") {
      if (!val()) return 2;
      icfg.faults = v;
    } else if (a == "--ipmi-inventory-out") {
      if (!val()) return 2;
      ipmi_inv = v;
    } else if (a == "--ipmi-credentials-out") {
      if (!val()) return 2;
      ipmi_cred = v;
    } else if (a == "--ipmi-cycle-delay") {
      if (!val() || !dur("--ipmi-cycle-delay", &icfg.cycle_delay)) return 2;
    } else if (a == "--ipmi-initial-power") {
      if (!val()) return 2;
      if (v != "on" && v != "off") {
        std::fprintf(stderr, "fleetpower-sim: --ipmi-initial-power on|off\n");
        return 2;
      }
      icfg.initial_power = v;
    } else if (a == "--address-base") {
      if (!val()) return 2;
      cfg.address_base = v;
    } else if (a == "--port") {
      if (!val() || !num("--port", 1, 65535, &n)) return 2;
      cfg.port = static_cast<unsigned>(n);
    } else if (a == "--port-per-bmc") {
      cfg.port_per_bmc = true;
    } else if (a == "--mockup") {
      if (!val()) return 2;
      cfg.mockups.push_back(v);
    } else if (a == "--vendor" || a == "--vendor-mix") {
      if (!val()) return 2;
      std::string e;
      if (!parse_vendor_list(v, &cfg.vendors, &e) || (a == "--vendor" && cfg.vendors.size() != 1)) {
        std::fprintf(stderr, "fleetpower-sim: %s: %s\n", std::string(a).c_str(),
                     e.empty() ? "one vendor name (use --vendor-mix for several)" : e.c_str());
        return 2;
      }
    } else if (a == "--mockup-root") {
      if (!val()) return 2;
      cfg.mockup_root = v;
    } else if (a == "--inventory-vendors") {
      cfg.inventory_vendors = true;
    } else if (a == "--http") {
      cfg.http = true;
    } else if (a == "--inventory-out") {
      if (!val()) return 2;
      cfg.inventory_out = v;
    } else if (a == "--credentials-out") {
      if (!val()) return 2;
      cfg.credentials_out = v;
    } else if (a == "--state-dir") {
      if (!val()) return 2;
      cfg.state_dir = v;
    } else if (a == "--faults") {
      if (!val()) return 2;
      cfg.faults = v;
    } else if (a == "--power-on-delay") {
      if (!val() || !dur("--power-on-delay", &cfg.on_delay)) return 2;
    } else if (a == "--power-off-delay") {
      if (!val() || !dur("--power-off-delay", &cfg.off_delay)) return 2;
    } else if (a == "--initial-power") {
      if (!val()) return 2;
      if (v != "tree" && v != "on" && v != "off") {
        std::fprintf(stderr, "fleetpower-sim: --initial-power tree|on|off\n");
        return 2;
      }
      cfg.initial_power = v;
    } else if (a == "--session-limit") {
      if (!val() || !num("--session-limit", 0, 100000, &n)) return 2;
      cfg.session_limit = static_cast<int>(n);
    } else if (a == "--session-timeout") {
      if (!val() || !dur("--session-timeout", &cfg.session_timeout)) return 2;
    } else if (a == "--host-prefix") {
      if (!val()) return 2;
      cfg.host_prefix = v;
    } else if (a == "--username") {
      if (!val()) return 2;
      cfg.username = v;
    } else if (a == "--max-conns-per-bmc") {
      if (!val() || !num("--max-conns-per-bmc", 1, 100000, &n)) return 2;
      cfg.max_conns_per_bmc = static_cast<int>(n);
    } else if (a == "--idle-timeout") {
      if (!val() || !dur("--idle-timeout", &cfg.idle_timeout)) return 2;
    } else if (a == "--hang-timeout") {
      if (!val() || !dur("--hang-timeout", &cfg.hang_timeout)) return 2;
    } else if (a == "--watts") {
      if (!val()) return 2;
      cfg.watts = v;
    } else if (a == "--power-resource") {
      if (!val()) return 2;
      cfg.power_resource = v;
    } else if (a == "--ipmi-watts") {
      if (!val()) return 2;
      icfg.watts = v;
    } else if (a == "--quiet" || a == "-q") {
      cfg.quiet = true;
    } else {
      std::fprintf(stderr, "fleetpower-sim: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  (void)redfish_given;
  if ((cfg.count == 0 && icfg.count == 0) || cfg.state_dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (const char* pw = std::getenv("FLEETPOWER_SIM_PASSWORD"); pw && *pw) cfg.password = pw;
  if (cfg.mockup_root.empty()) {
    const char* m = std::getenv("FLEETPOWER_MOCKUPS");
    cfg.mockup_root = m && *m ? m : FP_SIM_DEFAULT_MOCKUPS;
  }
  icfg.vendors = cfg.vendors;
  if (icfg.count > 0) {
    icfg.state_dir = cfg.state_dir;
    icfg.username = cfg.username;
    icfg.password = cfg.password;
    icfg.quiet = cfg.quiet;
    if (cfg.count == 0) {
      icfg.inventory_out = cfg.inventory_out;
      icfg.credentials_out = cfg.credentials_out;
      return run_ipmi_server(icfg);
    }
    // Both personalities: the IPMI BMCs get their own loop thread (the Redfish loop is owned
    // by run_server); sockets are bound before the Redfish side reports "ready".
    icfg.inventory_out = ipmi_inv;
    icfg.credentials_out = ipmi_cred;
    if (cfg.password.empty()) {
      std::fprintf(stderr,
                   "fleetpower-sim: --redfish with --ipmi needs $FLEETPOWER_SIM_PASSWORD (one "
                   "password for both)\n");
      return 2;
    }
  }
  std::vector<FaultRule> rules;
  std::string err;
  if (!parse_faults(cfg.faults, &rules, &err)) {
    std::fprintf(stderr, "fleetpower-sim: --faults: %s\n", err.c_str());
    return 2;
  }
  if (icfg.count == 0) return run_server(cfg);
  boost::asio::io_context ioc(1);
  auto ipmi = ipmi_start(ioc, icfg, &err);
  if (!ipmi) {
    std::fprintf(stderr, "fleetpower-sim: %s\n", err.c_str());
    return 1;
  }
  auto guard = boost::asio::make_work_guard(ioc);
  std::thread t([&ioc]() { ioc.run(); });
  int rc = run_server(cfg);
  boost::asio::post(ioc, [&]() {
    ipmi_stop(*ipmi);
    ioc.stop();
  });
  t.join();
  return rc;
}

// SPDX-License-Identifier: GPL-3.0-or-later
// Hidden benchmark (not run by default): how many shared UDP sockets the engine should use.
//   tests/ipmisim/fleet start --count 2000 --dir D ...
//   FP_IPMI_BENCH_DIR=D fleetpower_unit_ipmi "[.bench]"
// Prints wall time, CPU time and failures for status on the whole fleet per socket count.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "core/backend.hpp"
#include "transport/ipmi/ipmi_backend.hpp"

using namespace fleetpower;

namespace {
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
}  // namespace

TEST_CASE("bench: shared socket count", "[.bench]") {
  const char* dir = std::getenv("FP_IPMI_BENCH_DIR");
  if (!dir) return;
  std::vector<std::string> addrs;
  std::ifstream hosts(std::string(dir) + "/hosts.tsv");
  std::string line;
  std::getline(hosts, line);
  while (std::getline(hosts, line)) {
    std::istringstream ls(line);
    std::string idx, name, addr, port, model, power, kind;
    std::getline(ls, idx, '\t');
    std::getline(ls, name, '\t');
    std::getline(ls, addr, '\t');
    std::getline(ls, port, '\t');
    std::getline(ls, model, '\t');
    std::getline(ls, power, '\t');
    std::getline(ls, kind, '\t');
    if (kind == "live") addrs.push_back(addr);
  }
  std::ifstream pwf(std::string(dir) + "/secrets/admin.pw");
  std::string pw((std::istreambuf_iterator<char>(pwf)), {});
  Credential cred{"sim", "admin", Secret(pw), {}};
  std::vector<Target> targets(addrs.size());
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    targets[i].name = "h" + std::to_string(i);
    targets[i].bmc = addrs[i];
    targets[i].vars["cipher_suite"] = "3";
    targets[i].vars["privilege"] = "admin";
  }
  for (unsigned socks : {1u, 4u, 16u, 64u}) {
    for (int round = 0; round < 3; ++round) {
      asio::io_context io;
      ipmi::Options o;
      o.sockets = socks;
      auto be = ipmi::make_backend(io.get_executor(), o);
      std::vector<asio::cancellation_signal> sigs(targets.size());
      std::size_t done = 0, failed = 0;
      int retx = 0;
      auto t0 = std::chrono::steady_clock::now();
      double c0 = cpu_seconds();
      for (std::size_t i = 0; i < targets.size(); ++i) {
        OpContext ctx{targets[i], cred, Request{}, Clock::now() + std::chrono::seconds(10),
                      sigs[i].slot()};
        be->start(ctx, [&](Outcome out) {
          ++done;
          if (!out.ok()) ++failed;
          retx += out.retransmits;
          if (done == targets.size()) io.stop();
        });
      }
      io.run_for(std::chrono::seconds(15));
      auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cout << "sockets=" << socks << " n=" << targets.size() << " wall=" << wall
                << "s cpu=" << (cpu_seconds() - c0) << "s failed=" << failed
                << " retransmits=" << retx << "\n";
      be->shutdown();
    }
  }
}

// SPDX-License-Identifier: GPL-3.0-or-later
// The real backend over TLS against fleetpower-sim (when $FLEETPOWER_SIM names the binary):
// CA-file verification, pinned and wrong fingerprints, a TLS handshake that never completes.
// Lets the TLS paths run under the sanitizers without the CLI.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "transport/redfish/redfish_backend.hpp"

extern char** environ;

using namespace fleetpower;

namespace {

class SimProcess {
 public:
  /// Starts the simulator; ok() is false when it is not available or did not get ready.
  SimProcess(const std::string& faults) {
    const char* bin = std::getenv("FLEETPOWER_SIM");
    if (!bin || ::access(bin, X_OK) != 0) return;
    char tmpl[] = "/tmp/fp-rf-simtls-XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    dir = tmpl;
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<std::string> args{bin,          "--redfish", "2",        "--address-base",
                                  "127.22.9.1", "--port",    "8443",     "--state-dir",
                                  dir + "/st",  "--quiet",   "--faults", faults};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::setenv("FLEETPOWER_SIM_PASSWORD", "simtls-pw", 1);
    if (posix_spawn(&pid_, bin, &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    std::string out;
    char buf[256];
    ssize_t n;
    while (pid_ > 0 && (n = ::read(fds[0], buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      if (out.find("ready") != std::string::npos) break;
    }
    ::close(fds[0]);
    ready_ = out.find("ready") != std::string::npos;
    std::ifstream tsv(dir + "/st/bmcs.tsv");
    std::string line;
    while (std::getline(tsv, line)) {
      if (line.empty() || line[0] == '#') continue;
      // Column 8 is sha256_fingerprint (vendor and plugin columns follow it).
      std::size_t pos = 0;
      for (int col = 0; col < 7 && pos != std::string::npos; ++col) pos = line.find('\t', pos) + 1;
      if (pos == 0 || pos == std::string::npos) continue;
      fingerprint.push_back(line.substr(pos, line.find('\t', pos) - pos));
    }
  }
  ~SimProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  bool ok() const { return ready_ && fingerprint.size() == 2; }
  std::string dir;
  std::vector<std::string> fingerprint;

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

Outcome status(const std::string& bmc, std::map<std::string, std::string> vars,
               redfish::Options o = {}, Millis budget = Millis(5000)) {
  boost::asio::io_context io;
  o.session_linger = Millis(0);
  auto b = redfish::make_backend(io.get_executor(), o);
  Target t;
  t.name = "n";
  t.bmc = bmc;
  t.port = 8443;
  t.vars = std::move(vars);
  Credential c;
  c.username = "admin";
  c.password = Secret("simtls-pw");
  boost::asio::cancellation_signal sig;
  Outcome out;
  int calls = 0;
  b->start(OpContext{t, c, Request{}, Clock::now() + budget, sig.slot()}, [&](Outcome r) {
    ++calls;
    out = std::move(r);
  });
  io.run();
  b->shutdown();
  io.restart();
  io.run();
  CHECK(calls == 1);
  return out;
}

}  // namespace

TEST_CASE("TLS against fleetpower-sim: CA file, pins, silent handshake", "[redfish][tls][sim]") {
  SimProcess sim("2:blackhole");
  if (!sim.ok()) {
    WARN("FLEETPOWER_SIM not set or the simulator did not start: skipping");
    return;
  }
  const std::string ca = sim.dir + "/st/ca.pem";
  auto o = status("127.22.9.1", {{"ca_file", ca}});
  INFO(o.reason);
  CHECK(o.result == "on");
  o = status("127.22.9.1", {});
  CHECK(o.error == ErrorKind::Tls);
  CHECK(o.reason.find(sim.fingerprint[0]) != std::string::npos);
  o = status("127.22.9.1", {{"tls_fingerprint", sim.fingerprint[0]}});
  CHECK(o.result == "on");
  o = status("127.22.9.1", {{"tls_fingerprint", sim.fingerprint[1]}});
  CHECK(o.error == ErrorKind::Tls);
  CHECK(o.reason.find("differs") != std::string::npos);
  redfish::Options insecure;
  insecure.insecure = true;
  o = status("127.22.9.1", {}, insecure);
  CHECK(o.result == "on");
  auto t0 = Clock::now();
  o = status("127.22.9.2", {{"ca_file", ca}}, {}, Millis(500));
  CHECK(Clock::now() - t0 < Millis(2000));
  CHECK(o.error == ErrorKind::Timeout);
  CHECK(o.reason.find("TLS handshake") != std::string::npos);
}

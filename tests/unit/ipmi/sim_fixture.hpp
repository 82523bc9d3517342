// SPDX-License-Identifier: GPL-3.0-or-later
// Test helpers: start a real OpenIPMI ipmi_sim on a loopback address (with a chassis_control
// power model), and run one backend operation on a private io_context.
#pragma once

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/backend.hpp"
#include "transport/ipmi/ipmi_backend.hpp"

extern char** environ;

namespace fptest {

namespace fs = std::filesystem;
using namespace fleetpower;

inline bool have_ipmi_sim() { return ::access("/usr/bin/ipmi_sim", X_OK) == 0; }

/// One ipmi_sim process.  Users: admin/adminpw (admin), oper/operpw (operator),
/// viewer/viewpw (user).  Power state lives in DIR/pstate (0/1), boot device in DIR/boot.
class SimBmc {
 public:
  explicit SimBmc(std::string addr) : addr_(std::move(addr)) {
    char tmpl[] = "/tmp/fp-ipmi-sim-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::create_directory(dir_ / "state");
    write(dir_ / "power.sh",
          "#!/bin/sh\n"
          "D=$(dirname \"$0\")\n"
          "op=$1; shift\n"
          "if [ \"$op\" = get ]; then\n"
          "  [ -f $D/slow ] && sleep 2\n"
          "  for p in \"$@\"; do\n"
          "    case $p in\n"
          "      power) echo \"power:$(cat $D/pstate 2>/dev/null || echo 0)\";;\n"
          "      boot) echo \"boot:$(cat $D/boot 2>/dev/null || echo default)\";;\n"
          "    esac\n"
          "  done\n"
          "else\n"
          "  while [ $# -gt 1 ]; do\n"
          "    case $1 in\n"
          "      power) echo $2 > $D/pstate; echo power:$2 >> $D/events;;\n"
          "      boot) echo $2 > $D/boot;;\n"
          "      reset) echo reset >> $D/events;;\n"
          "      shutdown) echo 0 > $D/pstate; echo shutdown >> $D/events;;\n"
          "    esac\n"
          "    shift 2\n"
          "  done\n"
          "fi\n");
    fs::permissions(dir_ / "power.sh", fs::perms::owner_all);
    write(dir_ / "lan.conf",
          "name \"fpsim\"\n"
          "set_working_mc 0x20\n"
          "  startlan 1\n"
          "    addr " +
              addr_ +
              " 623\n"
              "    priv_limit admin\n"
              "    allowed_auths_callback none md2 md5 straight\n"
              "    allowed_auths_user none md2 md5 straight\n"
              "    allowed_auths_operator none md2 md5 straight\n"
              "    allowed_auths_admin none md2 md5 straight\n"
              "    guid a123456789abcdefa123456789abcdef\n"
              "  endlan\n"
              "  chassis_control \"" +
              (dir_ / "power.sh").string() +
              "\"\n"
              "  user 2 true \"admin\" \"adminpw\" admin 10 none md2 md5 straight\n"
              "  user 3 true \"oper\" \"operpw\" operator 10 none md2 md5 straight\n"
              "  user 4 true \"viewer\" \"viewpw\" user 10 none md2 md5 straight\n");
    write(dir_ / "sim.emu",
          "mc_setbmc 0x20\n"
          "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
          "mc_enable 0x20\n");
    std::string c = (dir_ / "lan.conf").string(), f = (dir_ / "sim.emu").string(),
                s = (dir_ / "state").string(), log = (dir_ / "sim.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const char* argv[] = {"ipmi_sim", "-c",      c.c_str(), "-f",   f.c_str(),
                          "-s",       s.c_str(), "-n",      nullptr};
    if (posix_spawn(&pid_, "/usr/bin/ipmi_sim", &fa, nullptr, const_cast<char**>(argv), environ) !=
        0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~SimBmc() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 100 && ::waitpid(pid_, &st, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  SimBmc(const SimBmc&) = delete;
  SimBmc& operator=(const SimBmc&) = delete;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& addr() const { return addr_; }
  const fs::path& dir() const { return dir_; }
  std::string power() const { return read(dir_ / "pstate"); }
  void set_power(bool on) { write(dir_ / "pstate", on ? "1\n" : "0\n"); }
  std::string events() const { return read(dir_ / "events"); }
  void stop() { ::kill(pid_, SIGSTOP); }
  void cont() { ::kill(pid_, SIGCONT); }

  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::string s, line;
    while (std::getline(in, line)) s += line;
    return s;
  }
  static void write(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::trunc);
    out << s;
  }

 private:
  std::string addr_;
  fs::path dir_;
  pid_t pid_ = -1;
};

struct Op {
  Target target;
  Credential cred;
  Request req;
  std::chrono::milliseconds timeout{5000};
  /// Emit terminal cancellation after this long (simulated Ctrl-C); 0: never.
  std::chrono::milliseconds interrupt_after{0};
  /// read_first: the state must be read within this long (OpContext::read_deadline); 0: unset.
  std::chrono::milliseconds read_timeout{0};
};

/// Run one operation to completion on a private io_context; returns the Outcome and how many
/// times `done` was called.
inline std::pair<Outcome, int> run_op(const Op& op, ipmi::Options opts = {}) {
  asio::io_context io;
  auto be = ipmi::make_backend(io.get_executor(), opts);
  asio::cancellation_signal sig;
  Outcome got;
  int calls = 0;
  OpContext ctx{op.target, op.cred, op.req, Clock::now() + op.timeout, sig.slot()};
  if (op.read_timeout.count() > 0) ctx.read_deadline = Clock::now() + op.read_timeout;
  // The scheduler's side: total cancellation at the deadline.
  asio::steady_timer dl(io);
  dl.expires_at(ctx.deadline);
  dl.async_wait([&](boost::system::error_code ec) {
    if (!ec && calls == 0) sig.emit(asio::cancellation_type::total);
  });
  asio::steady_timer intr(io);
  if (op.interrupt_after.count() > 0) {
    intr.expires_after(op.interrupt_after);
    intr.async_wait([&](boost::system::error_code ec) {
      if (!ec && calls == 0) sig.emit(asio::cancellation_type::terminal);
    });
  }
  be->start(ctx, [&](Outcome o) {
    ++calls;
    got = std::move(o);
    dl.cancel();
    intr.cancel();
    io.stop();
  });
  io.run_for(op.timeout + std::chrono::seconds(3));
  // Keep running briefly to see a second (wrong) completion, if any.
  io.restart();
  io.run_for(std::chrono::milliseconds(30));
  be->shutdown();
  io.restart();
  io.run_for(std::chrono::milliseconds(20));
  return {got, calls};
}

inline Op make_op(const std::string& addr, Action a, const std::string& user = "admin",
                  const std::string& pw = "adminpw") {
  Op op;
  op.target.name = "node-" + addr;
  op.target.bmc = addr;
  op.target.protocol = "ipmi";
  op.target.vars["cipher_suite"] = "3";
  op.cred.name = "test";
  op.cred.username = user;
  op.cred.password = Secret(pw);
  op.req.action = a;
  return op;
}

/// The independent second client: ipmitool lanplus, cipher 3, password from the environment.
inline std::string ipmitool(const std::string& addr, const std::string& args) {
  ::setenv("IPMI_PASSWORD", "adminpw", 1);
  std::string cmd =
      "timeout 20 ipmitool -I lanplus -C 3 -H " + addr + " -U admin -E " + args + " 2>&1";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    ::pclose(f);
  }
  return out;
}

/// Poll until the simulator answers a status (ipmi_sim needs a moment after start).
inline bool wait_ready(const SimBmc& sim,
                       std::chrono::milliseconds total = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + total;
  while (std::chrono::steady_clock::now() < end) {
    auto op = make_op(sim.addr(), Action::Status);
    op.timeout = std::chrono::milliseconds(1500);
    if (run_op(op).first.ok()) return true;
  }
  return false;
}

}  // namespace fptest

// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "core/journal.hpp"

using namespace fleetpower;

TEST_CASE("journal: header, per-host records, last record wins, torn lines skipped", "[journal]") {
  char dir[] = "/tmp/fpjournalXXXXXX";
  REQUIRE(::mkdtemp(dir));
  Target a, b;
  a.name = "a";
  b.name = "b";
  std::string path;
  {
    Journal j;
    std::string err;
    boost::json::object h;
    h["action"] = "off";
    REQUIRE(j.open(dir, "run1", h, &err));
    path = j.path();
    j.host(a, Outcome::failure(ErrorKind::Timeout, "x"));
    j.host(b, Outcome::success("off"));
    j.host(a, Outcome::success("off"));
    j.end(0);
  }
  { std::ofstream(path, std::ios::app) << "{\"type\":\"host\",\"ho"; }  // torn write
  boost::json::object header;
  std::vector<boost::json::object> hosts;
  std::string err;
  REQUIRE(Journal::load(path, &header, &hosts, &err));
  CHECK(header.at("action").as_string() == "off");
  CHECK(header.at("id").as_string() == "run1");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].at("ok").as_bool());
}

TEST_CASE("audit log: concurrent writers lose nothing and never interleave", "[journal]") {
  char dir[] = "/tmp/fpauditXXXXXX";
  REQUIRE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/audit.log";
  const int writers = 4, lines = 500;
  std::vector<pid_t> kids;
  for (int w = 0; w < writers; ++w) {
    pid_t p = ::fork();
    if (p == 0) {
      AuditLog log;
      std::string err;
      if (!log.open(path, &err)) ::_exit(1);
      Target t;
      t.name = "node" + std::to_string(w);
      for (int i = 0; i < lines; ++i) log.record("run" + std::to_string(w), "fleetpower off x", t, "off", Outcome::success("off"));
      log.flush();
      ::_exit(0);
    }
    kids.push_back(p);
  }
  for (auto p : kids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
  }
  std::ifstream f(path);
  std::string l;
  int n = 0;
  while (std::getline(f, l)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(l, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.as_object().at("action").as_string() == "off");
    ++n;
  }
  CHECK(n == writers * lines);
}

TEST_CASE("command lines lose anything that looks like a secret", "[journal]") {
  const char* argv[] = {"fleetpower", "--password", "hunter2", "--token=abc", "off", "node1"};
  auto s = sanitized_command_line(6, const_cast<char**>(argv));
  CHECK(s == "fleetpower --password *** --token=*** off node1");
}

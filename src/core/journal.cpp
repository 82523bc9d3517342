// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/journal.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "core/output.hpp"

namespace fleetpower {

namespace json = boost::json;

namespace {
bool mkdirs(const std::string& path, mode_t mode) {
  std::string cur;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      cur = path.substr(0, i);
      if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

std::string user_name() {
  if (passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}
}  // namespace

std::string state_dir() {
  std::string base;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) base = x;
  else if (const char* h = std::getenv("HOME"); h && *h) base = std::string(h) + "/.local/state";
  else base = "/tmp";
  std::string dir = base + "/fleetpower";
  mkdirs(dir, 0700);
  return dir;
}

std::string new_run_id() {
  std::random_device rd;
  auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y%m%dT%H%M%S}Z-{:06x}", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                     rd() & 0xffffff);
}

std::string sanitized_command_line(int argc, char** argv) {
  std::string out;
  bool hide_next = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    std::string shown = a;
    if (hide_next) {
      shown = "***";
      hide_next = false;
    } else {
      std::string lower;
      for (char c : a) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool secretish = lower.find("pass") != std::string::npos || lower.find("secret") != std::string::npos ||
                       lower.find("token") != std::string::npos;
      if (secretish && lower.rfind("-", 0) == 0) {
        auto eq = a.find('=');
        if (eq != std::string::npos) shown = a.substr(0, eq + 1) + "***";
        else hide_next = true;
      }
    }
    if (!out.empty()) out += ' ';
    out += shown;
  }
  return out;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

bool Journal::open(const std::string& dir, const std::string& run_id, const json::object& header, std::string* err) {
  if (!mkdirs(dir, 0700)) {
    *err = fmt::format("cannot create the journal directory {}", dir);
    return false;
  }
  path_ = dir + "/" + run_id + ".jsonl";
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    *err = fmt::format("cannot create the journal {}", path_);
    return false;
  }
  json::object h = header;
  h["type"] = "run";
  h["id"] = run_id;
  h["time"] = now_iso();
  h["user"] = user_name();
  line(h);
  return true;
}

void Journal::line(const json::object& o) {
  if (fd_ < 0) return;
  write_all(fd_, json::serialize(o) + "\n");
}

void Journal::host(const Target& t, const Outcome& o) {
  auto rec = host_record(t, o);
  rec["type"] = "host";
  rec["time"] = now_iso();
  line(rec);
}

void Journal::end(int exit_code) {
  json::object e;
  e["type"] = "end";
  e["time"] = now_iso();
  e["exit_code"] = exit_code;
  line(e);
  if (fd_ >= 0) ::fsync(fd_);
}

bool Journal::load(const std::string& path, json::object* header, std::vector<json::object>* hosts, std::string* err) {
  std::ifstream f(path);
  if (!f) {
    *err = fmt::format("cannot read the journal {}", path);
    return false;
  }
  std::string l;
  std::map<std::string, std::size_t> index;
  int n = 0;
  while (std::getline(f, l)) {
    ++n;
    if (l.empty()) continue;
    boost::system::error_code ec;
    auto v = json::parse(l, ec);
    if (ec || !v.is_object()) {
      // A run killed mid-write may leave a torn last line: skip it, keep the rest.
      continue;
    }
    auto& o = v.as_object();
    auto* type = o.if_contains("type");
    if (!type || !type->is_string()) continue;
    if (type->as_string() == "run") {
      *header = o;
    } else if (type->as_string() == "host") {
      auto* h = o.if_contains("host");
      if (!h || !h->is_string()) continue;
      std::string name(h->as_string());
      auto it = index.find(name);
      if (it == index.end()) {
        index[name] = hosts->size();
        hosts->push_back(o);
      } else {
        (*hosts)[it->second] = o;
      }
    }
  }
  if (header->empty()) {
    *err = fmt::format("{} is not a fleetpower run journal", path);
    return false;
  }
  return true;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool AuditLog::open(std::string path, std::string* err) {
  user_ = user_name();
  if (path.empty()) {
    std::string sys = "/var/log/fleetpower/audit.log";
    int fd = -1;
    if (::access("/var/log/fleetpower", W_OK) == 0 || (::geteuid() == 0 && mkdirs("/var/log/fleetpower", 0750)))
      fd = ::open(sys.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
      fd_ = fd;
      path_ = sys;
      return true;
    }
    path = state_dir() + "/audit.log";
  }
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdirs(path.substr(0, slash), 0700);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    *err = fmt::format("cannot open the audit log {}", path);
    return false;
  }
  path_ = path;
  return true;
}

void AuditLog::record(const std::string& run_id, const std::string& command_line, const Target& t,
                      const std::string& action, const Outcome& o) {
  if (fd_ < 0) return;
  json::object rec;
  rec["time"] = now_iso();
  rec["user"] = user_;
  rec["run"] = run_id;
  rec["command"] = command_line;
  rec["host"] = t.name;
  rec["bmc"] = t.bmc;
  rec["action"] = action;
  rec["ok"] = o.ok();
  rec["outcome"] = outcome_text(o);
  std::string line = json::serialize(rec) + "\n";
  // One locked append per line: concurrent runs never interleave.
  ::flock(fd_, LOCK_EX);
  write_all(fd_, line);
  ::flock(fd_, LOCK_UN);
}

void AuditLog::flush() {
  if (fd_ >= 0) ::fdatasync(fd_);
}

}  // namespace fleetpower

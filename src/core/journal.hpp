// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/json/object.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "core/types.hpp"

namespace fleetpower {

/// $XDG_STATE_HOME/fleetpower (default ~/.local/state/fleetpower), created on demand.
std::string state_dir();

/// A new run id: 20261126T142800Z-3f9a1c.
std::string new_run_id();

/// The command line with anything that looks like a secret replaced by "***".
std::string sanitized_command_line(int argc, char** argv);

/// The run journal: JSON lines, one header, one record per host as it completes, one end line.
/// Every line is written with one write(2) and fsync'ed at the end.
class Journal {
 public:
  ~Journal();
  /// Opens <dir>/<run_id>.jsonl; returns false with *err when the directory is not writable.
  bool open(const std::string& dir, const std::string& run_id, const boost::json::object& header, std::string* err);
  void host(const Target& t, const Outcome& o);
  void end(int exit_code);
  const std::string& path() const { return path_; }

  /// Reads a journal back: the header, and per host its last record.
  static bool load(const std::string& path, boost::json::object* header,
                   std::vector<boost::json::object>* hosts, std::string* err);

 private:
  void line(const boost::json::object& o);
  int fd_ = -1;
  std::string path_;
};

/// The audit log: one line per state-changing action and host, appended under an exclusive
/// lock with O_APPEND so concurrent runs never interleave or lose lines.
class AuditLog {
 public:
  ~AuditLog();
  /// `path` empty: /var/log/fleetpower/audit.log when writable, else <state_dir>/audit.log.
  bool open(std::string path, std::string* err);
  void record(const std::string& run_id, const std::string& command_line, const Target& t,
              const std::string& action, const Outcome& o);
  void flush();
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::string user_;
};

}  // namespace fleetpower

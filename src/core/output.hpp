// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/json/object.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "core/types.hpp"

namespace fleetpower {

/// Exit codes, documented in fleetpower(1).
enum class ExitCode : int {
  Ok = 0,           ///< every target succeeded
  SomeFailed = 1,   ///< some targets failed
  Usage = 2,        ///< usage, inventory or credentials error: nothing was done
  AllFailed = 3,    ///< every target failed
  Interrupted = 130,
};

struct RunReport {
  std::string command;  ///< "status", "on", "bootdev pxe", ...
  std::vector<const Target*> targets;
  std::vector<Outcome> outcomes;  ///< same order as targets
  Millis elapsed{0};
  bool interrupted = false;
};

ExitCode exit_code_for(const RunReport& r);

/// Folded text: one line per distinct result, hosts folded into a hostlist.  With `expand`
/// one line per host.  Lines are ordered by their first host in inventory order.
void write_text(std::ostream& os, const RunReport& r, bool expand);
/// One line per host with its facts ("node1: ok  vendor=Dell model=...").
void write_facts(std::ostream& os, const RunReport& r);

/// Groups hosts by identical result text, in order of first appearance: (hostlist, text).
std::vector<std::pair<std::string, std::string>> fold_results(const RunReport& r);

/// A number for JSON: an integer when it is whole ("512", not "5.12E2").
boost::json::value json_number(double v);

/// One host's record (JSON and JSONL).
boost::json::object host_record(const Target& t, const Outcome& o);
boost::json::object summary_record(const RunReport& r);

/// One JSON document: {"command", "summary", "hosts": [...]}.
void write_json(std::ostream& os, const RunReport& r);

/// "120 targets: 118 ok, 2 failed in 1.4s"
std::string summary_line(const RunReport& r);

}  // namespace fleetpower

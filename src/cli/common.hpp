// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/credentials.hpp"
#include "core/inventory.hpp"
#include "core/output.hpp"
#include "core/scheduler.hpp"

namespace fleetpower::cli {

/// Options every command shares.  Filled by CLI11; see fleetpower(1).
struct Globals {
  std::string inventory;
  std::string credentials;
  std::size_t fanout = 256;
  std::string timeout = "10s";
  std::string deadline;
  std::string output = "text";
  int verbose = 0;
  bool quiet = false;
  bool expand = false;
  bool all = false;
  std::vector<std::string> exclude;
  std::string protocol;  ///< overrides every target's protocol
  std::string ca_file;
  bool insecure = false;
};

/// The command chosen on the command line runs through this.
using CommandFn = std::function<int()>;

/// One row of the command table: every subcommand lives in its own file.
struct Command {
  const char* name;
  const char* help;
  void (*setup)(CLI::App& app, Globals& g, CommandFn* run);
};
const std::vector<Command>& command_table();

/// Inventory + selection + credentials, or a printed error and exit code 2.
struct Loaded {
  Inventory inventory;
  std::vector<const Target*> targets;
  CredentialStore credentials;
};
/// Loads the inventory and resolves `selection`; prints problems to stderr.
std::optional<int> load_selection(const Globals& g, const std::vector<std::string>& selection, Loaded* out);

/// Registers every backend compiled into this build.
void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g);

/// Runs one request over the loaded targets and prints the result. Returns the exit code.
int run_request(const Globals& g, Loaded& l, const std::string& command_name, Request req);

/// "did you mean" for a mistyped command name.
std::string suggest_command(const std::string& word);

}  // namespace fleetpower::cli

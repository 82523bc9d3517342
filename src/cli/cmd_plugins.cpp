// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/asio/io_context.hpp>

#include <iostream>

#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_plugins(CLI::App& app, Globals& g, CommandFn* run) {
  app.add_subcommand("plugins", "List the protocol backends and vendor plugins this build has")->callback([&g, run] {
    *run = [&g] {
      asio::io_context io;
      BackendRegistry reg;
      register_backends(reg, io.get_executor(), g);
      std::cout << "protocol backends (built in):\n";
      reg.for_each([](const std::string& name, Backend&) { std::cout << "  " << name << "\n"; });
      return 0;
    };
  });
}

}  // namespace fleetpower::cli

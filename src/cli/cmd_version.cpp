// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/version.hpp>
#include <openssl/opensslv.h>

#include <iostream>

#include "cli/common.hpp"

namespace fleetpower::cli {

void setup_version(CLI::App& app, Globals&, CommandFn* run) {
  app.add_subcommand("version", "Print the version and what it was built with")->callback([run] {
    *run = [] {
      std::cout << "fleetpower " << FLEETPOWER_VERSION << "\n"
                << "Boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
                << BOOST_VERSION % 100 << ", " << OPENSSL_VERSION_TEXT << "\n"
                << "License GPL-3.0-or-later: this is free software; there is NO WARRANTY.\n";
      return 0;
    };
  });
}

}  // namespace fleetpower::cli

// SPDX-License-Identifier: GPL-3.0-or-later
// For built-in plugins with code hooks (plugins/<name>/*.cpp).  The build generates the table
// of built-in plugins (build/generated/builtin_plugins.cpp) and, for a folder that has .cpp
// files, refers to make_hooks_<name with '-' as '_'>(), which this macro defines:
//
//   class DellHooks : public fleetpower::plugin::Hooks { ... };
//   FLEETPOWER_BUILTIN_HOOKS(dell_idrac, DellHooks)
#pragma once

#include <memory>

#include "plugin/plugin.hpp"

#define FLEETPOWER_BUILTIN_HOOKS(ident, Class)                                        \
  namespace fleetpower::plugin::builtin {                                             \
  std::shared_ptr<Hooks> make_hooks_##ident();                                        \
  std::shared_ptr<Hooks> make_hooks_##ident() { return std::make_shared<Class>(); }   \
  }

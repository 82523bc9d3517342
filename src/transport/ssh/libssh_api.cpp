// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ssh/libssh_api.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <iterator>
#include <mutex>
#include <vector>

namespace fleetpower::ssh {

namespace {

// Debian's soname first (libssh-4), then the development symlink.
constexpr const char* kNames[] = {"libssh.so.4", "libssh.so"};

struct Loaded {
  LibSsh api;
  std::string error;
  bool ok = false;
};

Loaded& loaded() {
  static Loaded l;
  return l;
}

void load(Loaded& l) {
  void* h = nullptr;
  std::string why;
  std::vector<std::string> names(std::begin(kNames), std::end(kNames));
  // FLEETPOWER_LIBSSH: another libssh (a path or a soname), e.g. one built under /opt.
  if (const char* env = std::getenv("FLEETPOWER_LIBSSH"); env && *env) names = {env};
  for (const auto& name : names) {
    h = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) break;
    if (const char* e = ::dlerror()) why = e;
  }
  if (!h) {
    l.error = fmt::format("cannot load libssh, which the SSH transport needs (Debian: apt-get install libssh-4): {}",
                          why);
    return;
  }
#define FP_LIBSSH_RESOLVE(f)                                                                            \
  l.api.f = reinterpret_cast<decltype(&::f)>(::dlsym(h, #f));                                           \
  if (!l.api.f) {                                                                                       \
    l.error = fmt::format("the libssh loaded has no {} (fleetpower was built against libssh {}.{})", #f, \
                          LIBSSH_VERSION_MAJOR, LIBSSH_VERSION_MINOR);                                  \
    return;                                                                                             \
  }
  FP_LIBSSH_FUNCTIONS(FP_LIBSSH_RESOLVE)
#undef FP_LIBSSH_RESOLVE
  // The handle stays open for the life of the process (libssh keeps global state).
  l.ok = true;
}

}  // namespace

const LibSsh* load_libssh(std::string* error) {
  static std::once_flag once;
  Loaded& l = loaded();
  std::call_once(once, [&l] { load(l); });
  if (!l.ok) {
    if (error) *error = l.error;
    return nullptr;
  }
  return &l.api;
}

const LibSsh& sshlib() { return loaded().api; }

}  // namespace fleetpower::ssh

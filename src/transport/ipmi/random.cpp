// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/random.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>

namespace fleetpower::ipmi {

namespace {

std::atomic<unsigned long long> g_interposed_calls{0};

struct Pool {
  std::array<std::uint8_t, 256> bytes{};  // getrandom(2) never returns short for <= 256 bytes
  std::size_t pos = 0, len = 0;           // [pos, len) not yet handed out
};

}  // namespace

bool secure_random(void* out, std::size_t n) {
  thread_local Pool pool;
  auto* p = static_cast<std::uint8_t*>(out);
  while (n > 0) {
    if (pool.pos == pool.len) {
      ssize_t got = ::getrandom(pool.bytes.data(), pool.bytes.size(), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      pool.pos = 0;
      pool.len = static_cast<std::size_t>(got);
    }
    const std::size_t k = std::min(n, pool.len - pool.pos);
    std::copy_n(pool.bytes.data() + pool.pos, k, p);
    std::fill_n(pool.bytes.data() + pool.pos, k, std::uint8_t{0});  // each byte handed out once
    pool.pos += k;
    p += k;
    n -= k;
  }
  return true;
}

unsigned long long ipmi_get_random_calls() { return g_interposed_calls.load(std::memory_order_relaxed); }

}  // namespace fleetpower::ipmi

// libfreeipmi draws the per-packet AES-CBC initialisation vector (confidentiality, cipher
// suites 3 and 17) from its exported ipmi_get_random(), which opens, reads and closes
// /dev/urandom on every call: three system calls and a device open per encrypted packet, 5 per
// verified power action, about 10% of the client's CPU at N = 500.  libfreeipmi calls it
// through its PLT, so this definition in the executable takes its place (ELF symbol
// interposition) with the same contract: buflen random bytes from the kernel's CSPRNG, the
// number of bytes on success, -1 with errno set on failure.  An IV from getrandom(2) is as
// unpredictable as one read from /dev/urandom (the same generator).
extern "C" int ipmi_get_random(void* buf, unsigned int buflen) {
  fleetpower::ipmi::g_interposed_calls.fetch_add(1, std::memory_order_relaxed);
  if (buf == nullptr) {
    errno = EINVAL;
    return -1;
  }
  if (buflen == 0) return 0;
  if (!fleetpower::ipmi::secure_random(buf, buflen)) {
    if (errno == 0) errno = EIO;
    return -1;
  }
  return static_cast<int>(buflen);
}

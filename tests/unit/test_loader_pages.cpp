// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <freeipmi/fiid/fiid.h>
#include <freeipmi/cmds/ipmi-chassis-cmds.h>
#include <unistd.h>

#include <cstdint>

#include "core/loader_pages.hpp"

using namespace fleetpower;

namespace {

// Pages of [begin, end) mapped into this process (the pagemap's "present" bit).
std::size_t present_pages(int pagemap, std::uintptr_t begin, std::uintptr_t end) {
  const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::size_t n = 0;
  for (std::uintptr_t a = begin; a < end; a += page) {
    std::uint64_t e = 0;
    REQUIRE(::pread(pagemap, &e, sizeof e, static_cast<off_t>(a / page * sizeof e)) == sizeof e);
    n += (e >> 63) & 1;
  }
  return n;
}

std::uint64_t checksum(std::uintptr_t begin, std::uintptr_t end) {
  std::uint64_t h = 1469598103934665603ull;
  for (auto* p = reinterpret_cast<const volatile unsigned char*>(begin); p < reinterpret_cast<const volatile unsigned char*>(end); ++p)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

}  // namespace

TEST_CASE("loader pages: relocation tables are released and read back intact", "[loader]") {
  auto ranges = relocation_table_pages(4096);
  // libfreeipmi (linked by this test binary, as by fleetpower) carries ~1.2 MB of them.
  std::size_t freeipmi = 0;
  for (auto& r : ranges) {
    CHECK(r.end > r.begin);
    if (r.object.find("libfreeipmi") != std::string::npos) freeipmi += r.end - r.begin;
  }
  REQUIRE(freeipmi >= 512 * 1024);

  int pm = ::open("/proc/self/pagemap", O_RDONLY);
  REQUIRE(pm >= 0);
  std::vector<std::uint64_t> before;
  std::size_t resident = 0;
  for (auto& r : ranges) {
    before.push_back(checksum(r.begin, r.end));  // reading maps every page
    resident += present_pages(pm, r.begin, r.end);
  }
  REQUIRE(resident > 0);

  std::size_t released = release_relocation_pages();
  CHECK(released >= freeipmi);
  std::size_t after = 0;
  for (auto& r : ranges) after += present_pages(pm, r.begin, r.end);
  // Everything the default threshold covers is gone (smaller tables may stay).
  std::size_t expected_left = 0;
  auto big = relocation_table_pages();
  for (auto& r : ranges) {
    bool covered = false;
    for (auto& b : big) covered |= b.begin == r.begin && b.end == r.end;
    if (!covered) expected_left += present_pages(pm, r.begin, r.end);
  }
  CHECK(after == expected_left);
  CHECK(after < resident);

  // The bytes come back from the file, unchanged, and the library still works.
  for (std::size_t i = 0; i < ranges.size(); ++i) CHECK(checksum(ranges[i].begin, ranges[i].end) == before[i]);
  fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rq);
  REQUIRE(o);
  CHECK(fiid_obj_set(o, "cmd", 1) >= 0);
  fiid_obj_destroy(o);
  ::close(pm);
}

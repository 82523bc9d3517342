// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>
#include <elf.h>
#include <fcntl.h>
#include <freeipmi/cmds/ipmi-chassis-cmds.h>
#include <freeipmi/fiid/fiid.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

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

// A made-up loaded object: three segments (read-only 0-0x8000, read-write 0x8000-0xc000,
// code 0xc000-0x10000) and a dynamic section; its "image" is this test's own memory.
struct FakeObject {
  alignas(4096) unsigned char image[0x10000] = {};
  ElfW(Phdr) phdr[4] = {};
  std::vector<ElfW(Dyn)> dyn;
  dl_phdr_info info{};
  explicit FakeObject(std::vector<ElfW(Dyn)> entries) : dyn(std::move(entries)) {
    dyn.push_back({DT_NULL, {0}});
    seg(phdr[0], PT_LOAD, PF_R, 0, 0x8000);
    seg(phdr[1], PT_LOAD, PF_R | PF_W, 0x8000, 0x4000);
    seg(phdr[2], PT_LOAD, PF_R | PF_X, 0xc000, 0x4000);
    // PT_DYNAMIC's address is dlpi_addr + p_vaddr: point it at the vector's storage.
    const auto base = reinterpret_cast<std::uintptr_t>(image);
    seg(phdr[3], PT_DYNAMIC, PF_R, reinterpret_cast<std::uintptr_t>(dyn.data()) - base, 0);
    info.dlpi_addr = base;
    info.dlpi_name = "fake.so";
    info.dlpi_phdr = phdr;
    info.dlpi_phnum = 4;
  }
  static void seg(ElfW(Phdr)& p, ElfW(Word) type, ElfW(Word) flags, ElfW(Addr) vaddr, ElfW(Xword) size) {
    p.p_type = type;
    p.p_flags = flags;
    p.p_vaddr = p.p_paddr = vaddr;
    p.p_offset = vaddr;
    p.p_filesz = p.p_memsz = size;
    p.p_align = 0x1000;
  }
  std::uintptr_t at(std::uintptr_t off) const { return reinterpret_cast<std::uintptr_t>(image) + off; }
};

ElfW(Dyn) tag(ElfW(Sxword) t, ElfW(Xword) v) { return {t, {v}}; }

}  // namespace

TEST_CASE("loader pages: only whole pages of tables in read-only data segments", "[loader]") {
  SECTION("rounded inwards; link-time and run-time addresses") {
    FakeObject o({tag(DT_RELA, 0x1100), tag(DT_RELASZ, 0x5000)});
    auto r = relocation_ranges(o.info, 4096, 4096);
    REQUIRE(r.size() == 1);
    CHECK(r[0].begin == o.at(0x2000));  // 0x1100 rounded up
    CHECK(r[0].end == o.at(0x6000));    // 0x6100 rounded down
    CHECK(r[0].object == "fake.so");
    FakeObject o2({tag(DT_RELR, 0), tag(DT_RELRSZ, 0x3000)});
    o2.dyn[0].d_un.d_ptr = o2.at(0x4000);  // already relocated by the loader
    auto r2 = relocation_ranges(o2.info, 4096, 4096);
    REQUIRE(r2.size() == 1);
    CHECK(r2[0].begin == o2.at(0x4000));
    CHECK(r2[0].end == o2.at(0x7000));
  }
  SECTION("never in a writable or executable segment, nor across segments") {
    FakeObject o({tag(DT_REL, 0x8000), tag(DT_RELSZ, 0x3000), tag(DT_RELA, 0xc000), tag(DT_RELASZ, 0x3000),
                  tag(DT_RELR, 0x6000), tag(DT_RELRSZ, 0x4000)});
    CHECK(relocation_ranges(o.info, 4096, 4096).empty());
  }
  SECTION("small tables, and tables with no whole page, stay") {
    FakeObject o({tag(DT_RELA, 0x1000), tag(DT_RELASZ, 0x3000), tag(DT_REL, 0x5800), tag(DT_RELSZ, 0x1000)});
    CHECK(relocation_ranges(o.info, 16384, 4096).empty());
    auto r = relocation_ranges(o.info, 4096, 4096);
    REQUIRE(r.size() == 1);  // DT_REL spans 0x5800-0x6800: no page of its own
    CHECK(r[0].begin == o.at(0x1000));
  }
  SECTION("the PLT's table only when the object is bound at start") {
    std::vector<ElfW(Dyn)> plt = {tag(DT_JMPREL, 0x1000), tag(DT_PLTRELSZ, 0x2000)};
    CHECK(relocation_ranges(FakeObject(plt).info, 4096, 4096).empty());
    for (auto now : {tag(DT_FLAGS, DF_BIND_NOW), tag(DT_FLAGS_1, DF_1_NOW), tag(DT_BIND_NOW, 0)}) {
      auto d = plt;
      d.push_back(now);
      FakeObject o(d);
      CHECK(relocation_ranges(o.info, 4096, 4096).size() == 1);
    }
  }
  SECTION("no dynamic section: nothing") {
    FakeObject o({});
    o.info.dlpi_phnum = 3;
    CHECK(relocation_ranges(o.info, 0, 4096).empty());
  }
}

TEST_CASE("loader pages: only private read-only mappings of a file", "[loader]") {
  const std::string maps =
      "7f0000000000-7f0000010000 r--p 00000000 08:01 1234                       /usr/lib/libx.so\n"
      "7f0000010000-7f0000020000 r-xp 00010000 08:01 1234                       /usr/lib/libx.so\n"
      "7f0000020000-7f0000030000 r--p 00000000 00:00 0 \n"
      "7f0000030000-7f0000040000 rw-p 00020000 08:01 1234                       /usr/lib/libx.so\n"
      "7f0000040000-7f0000050000 r--s 00000000 08:01 99                         /dev/shm/shared\n";
  CHECK(private_file_readonly(maps, 0x7f0000001000, 0x7f0000010000));
  CHECK_FALSE(private_file_readonly(maps, 0x7f0000001000, 0x7f0000011000));  // runs into code
  CHECK_FALSE(private_file_readonly(maps, 0x7f0000011000, 0x7f0000012000));  // code
  CHECK_FALSE(private_file_readonly(maps, 0x7f0000021000, 0x7f0000022000));  // anonymous
  CHECK_FALSE(private_file_readonly(maps, 0x7f0000031000, 0x7f0000032000));  // writable
  CHECK_FALSE(private_file_readonly(maps, 0x7f0000041000, 0x7f0000042000));  // shared
  CHECK_FALSE(private_file_readonly(maps, 0x7e0000000000, 0x7e0000001000));  // not mapped
}

TEST_CASE("loader pages: this process's relocation tables are released and read back intact", "[loader]") {
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
  // The released ranges hold no page now (a fault nearby may map a few back: at most 10%).
  std::size_t left = 0, released_pages = 0;
  for (auto& b : relocation_table_pages()) {
    left += present_pages(pm, b.begin, b.end);
    released_pages += (b.end - b.begin) / static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  }
  CHECK(released_pages > 0);
  CHECK(left * 10 <= released_pages);

  // The bytes come back from the file, unchanged, and the library still works.
  for (std::size_t i = 0; i < ranges.size(); ++i) CHECK(checksum(ranges[i].begin, ranges[i].end) == before[i]);
  fiid_obj_t o = fiid_obj_create(tmpl_cmd_get_chassis_status_rq);
  REQUIRE(o);
  CHECK(fiid_obj_set(o, "cmd", 1) >= 0);
  fiid_obj_destroy(o);
  ::close(pm);
}

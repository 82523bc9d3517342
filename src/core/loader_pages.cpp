// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/loader_pages.hpp"

#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>

namespace fleetpower {
namespace {

// The flags of the PT_LOAD segment of `info` that holds [a, b); -1 if none holds it whole.
long segment_flags(const dl_phdr_info& info, std::uintptr_t a, std::uintptr_t b) {
  for (int i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& p = info.dlpi_phdr[i];
    if (p.p_type != PT_LOAD) continue;
    const std::uintptr_t s = info.dlpi_addr + p.p_vaddr, e = s + p.p_memsz;
    if (a >= s && b <= e && b >= a) return static_cast<long>(p.p_flags);
  }
  return -1;
}

std::uintptr_t hex(std::string_view s) {
  std::uintptr_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? v : 0;
}

}  // namespace

std::vector<LoaderRange> relocation_ranges(const dl_phdr_info& info, std::size_t min_bytes,
                                           std::uintptr_t page) {
  std::vector<LoaderRange> out;
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info.dlpi_phnum; ++i)
    if (info.dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info.dlpi_addr + info.dlpi_phdr[i].p_vaddr);
  if (!dyn) return out;  // a static object: nothing relocated by a loader
  struct Table {
    ElfW(Addr) addr = 0;
    ElfW(Xword) size = 0;
  } rela, rel, relr, jmprel;
  bool bind_now = false;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_RELA: rela.addr = d->d_un.d_ptr; break;
      case DT_RELASZ: rela.size = d->d_un.d_val; break;
      case DT_REL: rel.addr = d->d_un.d_ptr; break;
      case DT_RELSZ: rel.size = d->d_un.d_val; break;
      case DT_RELR: relr.addr = d->d_un.d_ptr; break;
      case DT_RELRSZ: relr.size = d->d_un.d_val; break;
      case DT_JMPREL: jmprel.addr = d->d_un.d_ptr; break;
      case DT_PLTRELSZ: jmprel.size = d->d_un.d_val; break;
      case DT_BIND_NOW: bind_now = true; break;
      case DT_FLAGS: bind_now |= (d->d_un.d_val & DF_BIND_NOW) != 0; break;
      case DT_FLAGS_1: bind_now |= (d->d_un.d_val & DF_1_NOW) != 0; break;
      default: break;
    }
  }
  // Lazily bound PLT entries read their relocation when first called: that table stays.
  if (!bind_now) jmprel = {};
  for (const Table& t : {rela, rel, relr, jmprel}) {
    if (!t.addr || t.size < min_bytes) continue;
    // glibc rewrites these entries to run-time addresses on most targets; on a few (and in
    // other loaders) they stay link-time addresses: take whichever lies inside the object.
    for (std::uintptr_t a : {static_cast<std::uintptr_t>(t.addr),
                             static_cast<std::uintptr_t>(info.dlpi_addr + t.addr)}) {
      const std::uintptr_t b = a + t.size;
      if (b < a) continue;  // wrapped
      const long flags = segment_flags(info, a, b);
      if (flags < 0) continue;
      if (flags & (PF_W | PF_X)) break;  // writable or code: never
      const std::uintptr_t pa = (a + page - 1) & ~(page - 1), pb = b & ~(page - 1);
      if (pb > pa) out.push_back({info.dlpi_name ? info.dlpi_name : "", pa, pb});
      break;
    }
  }
  return out;
}

bool private_file_readonly(std::string_view maps, std::uintptr_t begin, std::uintptr_t end) {
  while (!maps.empty()) {
    auto nl = maps.find('\n');
    std::string_view line = maps.substr(0, nl);
    maps = nl == std::string_view::npos ? std::string_view() : maps.substr(nl + 1);
    // start-end perms offset dev inode [path]
    auto dash = line.find('-'), sp1 = line.find(' ');
    if (dash == std::string_view::npos || sp1 == std::string_view::npos || dash > sp1) continue;
    const std::uintptr_t s = hex(line.substr(0, dash)), e = hex(line.substr(dash + 1, sp1 - dash - 1));
    if (!(begin >= s && begin < e)) continue;
    // The mapping that holds `begin` must hold all of the range, and be r--p with an inode.
    std::string_view rest = line.substr(sp1 + 1);
    if (end > e || rest.substr(0, 4) != "r--p") return false;
    std::size_t field = 0, pos = 0;
    std::string_view inode;
    while (pos < rest.size() && field < 4) {
      while (pos < rest.size() && rest[pos] == ' ') ++pos;
      std::size_t q = rest.find(' ', pos);
      if (q == std::string_view::npos) q = rest.size();
      if (field == 3) inode = rest.substr(pos, q - pos);
      ++field;
      pos = q;
    }
    return !inode.empty() && inode != "0";
  }
  return false;
}

std::vector<LoaderRange> relocation_table_pages(std::size_t min_bytes) {
  struct Walk {
    std::size_t min_bytes;
    std::uintptr_t page;
    std::vector<LoaderRange> out;
  } w{min_bytes, static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)), {}};
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* walk = static_cast<Walk*>(data);
        for (auto& r : relocation_ranges(*info, walk->min_bytes, walk->page)) walk->out.push_back(std::move(r));
        return 0;
      },
      &w);
  return std::move(w.out);
}

std::size_t release_relocation_pages() {
  auto ranges = relocation_table_pages();
  if (ranges.empty()) return 0;
  std::ifstream f("/proc/self/maps");
  const std::string maps((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t n = 0;
  for (const LoaderRange& r : ranges)
    if (private_file_readonly(maps, r.begin, r.end) &&
        ::madvise(reinterpret_cast<void*>(r.begin), r.end - r.begin, MADV_DONTNEED) == 0)
      n += r.end - r.begin;
  return n;
}

}  // namespace fleetpower

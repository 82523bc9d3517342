// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/loader_pages.hpp"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fleetpower {
namespace {

struct Walk {
  std::size_t min_bytes;
  std::uintptr_t page;
  std::vector<LoaderRange> out;
};

// The read-only, non-executable PT_LOAD segment of `info` that holds [a, b), or null.
const ElfW(Phdr) * readonly_segment(const dl_phdr_info* info, std::uintptr_t a, std::uintptr_t b) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& p = info->dlpi_phdr[i];
    if (p.p_type != PT_LOAD) continue;
    const std::uintptr_t s = info->dlpi_addr + p.p_vaddr, e = s + p.p_memsz;
    if (a >= s && b <= e && b >= a) return (p.p_flags & (PF_W | PF_X)) ? nullptr : &p;
  }
  return nullptr;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* w = static_cast<Walk*>(data);
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (!dyn) return 0;  // the vDSO has no relocations worth a look; static objects none
  struct Table {
    ElfW(Addr) addr = 0;
    ElfW(Xword) size = 0;
  } rela, rel, relr, jmprel;
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
      default: break;
    }
  }
  for (const Table& t : {rela, rel, relr, jmprel}) {
    if (!t.addr || t.size < w->min_bytes) continue;
    // glibc rewrites these entries to run-time addresses on most targets; on a few (and in
    // other loaders) they stay link-time addresses: take whichever lies inside the object.
    for (std::uintptr_t a : {static_cast<std::uintptr_t>(t.addr), static_cast<std::uintptr_t>(info->dlpi_addr + t.addr)}) {
      if (a < t.addr) continue;  // wrapped
      const std::uintptr_t b = a + t.size;
      if (!readonly_segment(info, a, b)) continue;
      const std::uintptr_t pa = (a + w->page - 1) & ~(w->page - 1), pb = b & ~(w->page - 1);
      if (pb > pa) w->out.push_back({info->dlpi_name ? info->dlpi_name : "", pa, pb});
      break;
    }
  }
  return 0;
}

}  // namespace

std::vector<LoaderRange> relocation_table_pages(std::size_t min_bytes) {
  Walk w{min_bytes, static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)), {}};
  ::dl_iterate_phdr(visit, &w);
  return std::move(w.out);
}

std::size_t release_relocation_pages() {
  std::size_t n = 0;
  for (const LoaderRange& r : relocation_table_pages())
    if (::madvise(reinterpret_cast<void*>(r.begin), r.end - r.begin, MADV_DONTNEED) == 0) n += r.end - r.begin;
  return n;
}

}  // namespace fleetpower

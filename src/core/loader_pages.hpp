// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <link.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleetpower {

/// A page-aligned range of a loaded object's relocation tables.
struct LoaderRange {
  std::string object;  ///< the object's path ("" for the executable)
  std::uintptr_t begin = 0, end = 0;
};

/// The whole pages of one loaded object's dynamic relocation tables (DT_RELA, DT_REL, DT_RELR;
/// DT_JMPREL only for an object bound at start, whose PLT entries are never resolved later)
/// that lie inside a read-only, non-executable PT_LOAD segment of that object, for tables of
/// at least `min_bytes`.  Rounded inwards: a page that holds anything else is never included.
std::vector<LoaderRange> relocation_ranges(const dl_phdr_info& info, std::size_t min_bytes,
                                           std::uintptr_t page);

/// True when [begin, end) lies inside one private, read-only, non-executable mapping of a
/// file, per the text of /proc/self/maps: its pages can be dropped and read back unchanged.
bool private_file_readonly(std::string_view maps, std::uintptr_t begin, std::uintptr_t end);

/// relocation_ranges() of every loaded object.
std::vector<LoaderRange> relocation_table_pages(std::size_t min_bytes = 16384);

/// Unmaps the resident pages of those ranges from this process (madvise MADV_DONTNEED), where
/// /proc/self/maps shows them as a private read-only file mapping.
///
/// The dynamic loader reads an object's relocation tables once, before main(), and never again
/// (the PLT's table only when the object was bound at start).  libfreeipmi's are 1.2 MB (about
/// 53,000 relocations; it is linked with BIND_NOW): 13% of the peak resident set of a `status`
/// of 500 BMCs.  The pages are clean, file-backed and read-only, so dropping them loses
/// nothing: should anything read them again, they fault back in from the file.  The page cache
/// keeps them; this lowers what the process holds, not what the file costs.
/// Returns the bytes of address space released.
std::size_t release_relocation_pages();

}  // namespace fleetpower

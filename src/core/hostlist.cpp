// SPDX-License-Identifier: GPL-3.0-or-later
// Hostlist expressions: expansion ("n[01-10]-ib,r[1-2]n[1-4]") and folding that agrees with
// ClusterShell's `nodeset`.
//
// Expansion semantics (checked against ClusterShell 1.9 `nodeset -e`):
//  - top level: elements separated by commas outside brackets; an empty element is an error;
//    blanks around elements and around numbers inside brackets are ignored;
//  - an element is literal text and bracket groups, e.g. "r[1-2]n[01-16]-ib"; several groups
//    give their cartesian product (leftmost group varies slowest); two groups may not touch
//    ("n[1-2][3-4]" is rejected, as nodeset does);
//  - a bracket group is a comma-separated list of "N", "A-B" or "A-B/STEP";
//  - padding: a bound written with a leading zero ("08", "00") fixes the width of every value
//    of the range; both bounds must then have the same width ("n[08-10]" is fine,
//    "n[1-010]" and "n[01-100]" are errors, as in nodeset);
//  - negative numbers, set operators ('!', '&', '^') and group references ('@name') are not
//    part of a hostlist and are rejected with a message.
//
// Folding: see fold() below.
#include "core/hostlist.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace fleetpower::hostlist {

namespace {

// ---------------------------------------------------------------------------------------------
// Expansion
// ---------------------------------------------------------------------------------------------

constexpr std::size_t kMaxDigits = 18;  // values stay well inside uint64_t
constexpr std::size_t kMaxGroups = 64;  // bracket groups in one element

struct Range {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::uint64_t step = 1;
  unsigned pad = 0;  // 0: no padding; otherwise the zero-filled width of every value
  std::uint64_t count() const { return (hi - lo) / step + 1; }
};

struct Group {
  std::vector<Range> ranges;
  std::uint64_t count = 0;  // sum of range counts, saturated
};

// One element: literal text pieces around bracket groups; pieces.size() == groups.size() + 1.
struct Element {
  std::vector<std::string_view> pieces;
  std::vector<Group> groups;
  std::size_t column = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}
std::uint64_t sat_mul(std::uint64_t a, std::uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > std::numeric_limits<std::uint64_t>::max() / b
             ? std::numeric_limits<std::uint64_t>::max()
             : a * b;
}

std::string quote_char(char c) {
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "byte 0x";
    s += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
    s += kHex[static_cast<unsigned char>(c) & 0xf];
    return s;
  }
  return std::string("'") + c + "'";
}

class Parser {
 public:
  Parser(std::string_view expr, Error* err) : s_(expr), err_(err) {}

  bool fail(std::size_t pos, std::string msg) {
    if (err_) {
      err_->message = std::move(msg);
      err_->column = pos + 1;
    }
    return false;
  }

  std::size_t size() const { return s_.size(); }

  // Parses the element starting at *pos (after leading blanks). Stops at a top-level comma or
  // the end; *pos is left on the comma or at the end.
  bool element(std::size_t* pos, Element* el) {
    std::size_t i = *pos;
    while (i < s_.size() && is_blank(s_[i])) ++i;
    el->column = i + 1;
    el->pieces.clear();
    el->groups.clear();
    if (i >= s_.size()) return fail(0, "empty hostlist");  // a trailing ',' is caught by expand
    if (s_[i] == ',') return fail(i, "empty element before ','");
    if (s_[i] == '@')
      return fail(i, "group reference '@...' is not allowed in a hostlist expression");
    std::size_t piece_start = i;
    bool last_was_group = false;
    std::size_t blank_start = std::string_view::npos;  // start of a run of blanks
    while (i < s_.size() && s_[i] != ',') {
      char c = s_[i];
      if (is_blank(c)) {
        if (blank_start == std::string_view::npos) blank_start = i;
        ++i;
        continue;
      }
      if (blank_start != std::string_view::npos)
        return fail(blank_start, "blank inside a host name");
      if (c == '[') {
        if (last_was_group && piece_start == i)
          return fail(i, "'[' directly after ']': two bracket groups must be separated by text");
        if (el->groups.size() >= kMaxGroups)
          return fail(i, "more than " + std::to_string(kMaxGroups) + " bracket groups in one name");
        el->pieces.push_back(s_.substr(piece_start, i - piece_start));
        Group g;
        if (!group(&i, &g)) return false;  // i now after ']'
        el->groups.push_back(std::move(g));
        piece_start = i;
        last_was_group = true;
        continue;
      }
      if (c == ']') return fail(i, "']' without a matching '['");
      if (c == '!' || c == '&' || c == '^')
        return fail(i, std::string("set operator '") + c +
                           "' is not supported in a hostlist (use --exclude)");
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return fail(i, "control character (" + quote_char(c) + ") in a host name");
      ++i;
    }
    std::size_t end = blank_start != std::string_view::npos ? blank_start : i;
    el->pieces.push_back(s_.substr(piece_start, end - piece_start));
    *pos = i;
    return true;
  }

 private:
  // Reads a run of digits at *i. Returns false (with an error) when there is none or it is too
  // long; `what` names the expected number in the message.
  bool number(std::size_t* i, std::string_view what, std::string_view* digits,
              std::uint64_t* value) {
    std::size_t b = *i;
    while (*i < s_.size() && is_digit(s_[*i])) ++*i;
    if (*i == b) {
      char c = s_[b];  // the group's ']' is always ahead, so b is inside the string
      if (c == '-') return fail(b, "negative numbers are not supported in ranges");
      if (c == ']' || c == ',' || c == '/')
        return fail(b, std::string("missing ") + std::string(what));
      return fail(b, std::string("expected ") + std::string(what) + ", got " + quote_char(c));
    }
    if (*i - b > kMaxDigits)
      return fail(b, "number too large (more than " + std::to_string(kMaxDigits) + " digits)");
    std::uint64_t v = 0;
    for (std::size_t k = b; k < *i; ++k) v = v * 10 + static_cast<unsigned>(s_[k] - '0');
    *digits = s_.substr(b, *i - b);
    *value = v;
    return true;
  }

  void skip_blanks(std::size_t* i) {
    while (*i < s_.size() && is_blank(s_[*i])) ++*i;
  }

  static bool padded(std::string_view d) { return d.size() > 1 && d[0] == '0'; }

  // *i is on '['. On success *i is just after the matching ']'.
  bool group(std::size_t* i, Group* g) {
    const std::size_t open = *i;
    const std::size_t close = s_.find(']', open + 1);
    const std::size_t comma_or_open = s_.find_first_of("[", open + 1);
    if (close == std::string_view::npos) return fail(open, "missing ']' for '['");
    if (comma_or_open != std::string_view::npos && comma_or_open < close)
      return fail(comma_or_open, "'[' inside brackets");
    std::size_t k = open + 1;
    for (;;) {
      skip_blanks(&k);
      const std::size_t item = k;
      if (k == close) return fail(k, k == open + 1 ? "empty brackets" : "empty range after ','");
      if (s_[k] == ',') return fail(k, "empty range before ','");
      Range r;
      std::string_view lo_d, hi_d;
      if (!number(&k, "a number", &lo_d, &r.lo)) return false;
      hi_d = lo_d;
      r.hi = r.lo;
      skip_blanks(&k);
      bool is_range = false;
      if (s_[k] == '-') {
        ++k;
        skip_blanks(&k);
        if (k < close && s_[k] == '-')
          return fail(k, "negative numbers are not supported in ranges");
        if (!number(&k, "the end of the range", &hi_d, &r.hi)) return false;
        skip_blanks(&k);
        is_range = true;
      }
      if (s_[k] == '/') {
        const std::size_t slash = k;
        ++k;
        skip_blanks(&k);
        std::string_view step_d;
        if (!number(&k, "a step after '/'", &step_d, &r.step)) return false;
        if (!is_range) return fail(slash, "a step needs a range (A-B/STEP)");
        if (r.step == 0) return fail(slash + 1, "step must be at least 1");
        skip_blanks(&k);
      }
      if (k != close && s_[k] != ',')
        return fail(k, "unexpected " + quote_char(s_[k]) + " in a range");
      // Padding as in ClusterShell: a bound with a leading zero fixes the width, and then both
      // bounds must be written with the same width.
      if ((padded(lo_d) || padded(hi_d)) && lo_d.size() != hi_d.size())
        return fail(item, "padding length mismatch in range '" +
                              std::string(s_.substr(item, k - item)) + "' (" +
                              std::to_string(lo_d.size()) + " vs " + std::to_string(hi_d.size()) +
                              " digits)");
      if (r.hi < r.lo)
        return fail(item,
                    "range end " + std::string(hi_d) + " is below its start " + std::string(lo_d));
      r.pad = padded(lo_d) ? static_cast<unsigned>(lo_d.size()) : 0;
      g->count = sat_add(g->count, r.count());
      g->ranges.push_back(r);
      if (k == close) break;
      ++k;  // ','
    }
    *i = close + 1;
    return true;
  }

  std::string_view s_;
  Error* err_;
};

void append_number(std::string* s, std::uint64_t v, unsigned pad) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int k = n; k < static_cast<int>(pad); ++k) s->push_back('0');
  while (n > 0) s->push_back(buf[--n]);
}

// Index set over *out with lookups by the string, so names can be deduplicated without
// copying them.
struct IndexHash {
  const std::vector<std::string>* v;
  std::size_t operator()(std::size_t i) const { return std::hash<std::string>{}((*v)[i]); }
};
struct IndexEq {
  const std::vector<std::string>* v;
  bool operator()(std::size_t a, std::size_t b) const { return (*v)[a] == (*v)[b]; }
};
using IndexSet = std::unordered_set<std::size_t, IndexHash, IndexEq>;

void generate(const Element& el, std::size_t g, std::string* buf, std::vector<std::string>* out,
              IndexSet* seen) {
  const std::size_t keep = buf->size();
  buf->append(el.pieces[g]);
  if (g == el.groups.size()) {
    out->push_back(*buf);
    if (!seen->insert(out->size() - 1).second) out->pop_back();
  } else {
    const std::size_t base = buf->size();
    for (const Range& r : el.groups[g].ranges) {
      for (std::uint64_t v = r.lo;; v += r.step) {
        buf->resize(base);
        append_number(buf, v, r.pad);
        generate(el, g + 1, buf, out, seen);
        if (r.hi - v < r.step) break;
      }
    }
  }
  buf->resize(keep);
}

// ---------------------------------------------------------------------------------------------
// Names, patterns and numeric order
// ---------------------------------------------------------------------------------------------

// Order of digit runs inside one RangeSet in ClusterShell: shorter first, then bytewise (which
// is numeric for equal lengths).
bool num_less(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

bool num_padded(std::string_view d) { return d.size() > 1 && d[0] == '0'; }

// True when the value of b is the value of a plus one (both are digit runs, any length).
bool is_successor(std::string_view a, std::string_view b) {
  if (a.size() <= kMaxDigits && b.size() <= kMaxDigits) {
    std::uint64_t x = 0, y = 0;
    for (char c : a) x = x * 10 + static_cast<unsigned>(c - '0');
    for (char c : b) y = y * 10 + static_cast<unsigned>(c - '0');
    return y == x + 1;
  }
  auto strip = [](std::string_view d) {
    std::size_t z = 0;
    while (z + 1 < d.size() && d[z] == '0') ++z;
    return d.substr(z);
  };
  a = strip(a);
  b = strip(b);
  std::size_t k = a.size();
  while (k > 0 && a[k - 1] == '9') --k;
  if (k == 0) {  // all nines: b must be 1 followed by a.size() zeros
    if (b.size() != a.size() + 1 || b[0] != '1') return false;
    return b.find_first_not_of('0', 1) == std::string_view::npos;
  }
  if (b.size() != a.size()) return false;
  if (a.substr(0, k - 1) != b.substr(0, k - 1)) return false;
  if (b[k - 1] != a[k - 1] + 1) return false;
  return b.find_first_not_of('0', k) == std::string_view::npos;
}

// Splits a name the way ClusterShell does ((\D*)(\d*) repeated): every maximal run of ASCII
// digits is a dimension. The pattern key is the name with '%' doubled and each digit run
// replaced by "%s", which is exactly the string nodeset sorts its patterns by.
struct Split {
  std::string key;
  std::vector<std::string_view> lits;    // dims + 1 literal pieces
  std::vector<std::string_view> digits;  // one per dimension
};

void split_name(std::string_view name, Split* sp) {
  sp->key.clear();
  sp->lits.clear();
  sp->digits.clear();
  std::size_t i = 0, lit = 0;
  while (i < name.size()) {
    if (is_digit(name[i])) {
      std::size_t b = i;
      while (i < name.size() && is_digit(name[i])) ++i;
      sp->lits.push_back(name.substr(lit, b - lit));
      sp->digits.push_back(name.substr(b, i - b));
      sp->key += "%s";
      lit = i;
    } else {
      if (name[i] == '%') sp->key += '%';
      sp->key += name[i];
      ++i;
    }
  }
  sp->lits.push_back(name.substr(lit));
}

// Streams the pattern key of a name character by character without building it.
class KeyStream {
 public:
  explicit KeyStream(std::string_view s) : s_(s) {}
  // Next key character, or -1 at the end.
  int next() {
    if (pending_ >= 0) {
      int c = pending_;
      pending_ = -1;
      return c;
    }
    if (i_ >= s_.size()) return -1;
    char c = s_[i_];
    if (is_digit(c)) {
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
      pending_ = 's';
      return '%';
    }
    ++i_;
    if (c == '%') pending_ = '%';
    return static_cast<unsigned char>(c);
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  int pending_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Folding
// ---------------------------------------------------------------------------------------------

using RangeSet = std::vector<std::string_view>;  // sorted by num_less, unique

__extension__ typedef __int128 i128;  // GCC/Clang; digit runs up to 38 digits

// Numeric difference b - a of two digit runs when both fit in 38 digits; otherwise 1 for a
// successor and a fresh negative value (equal to nothing else) for anything else.
class Differ {
 public:
  i128 operator()(std::string_view a, std::string_view b) {
    if (a.size() <= 38 && b.size() <= 38) return value(b) - value(a);
    if (is_successor(a, b)) return 1;
    return --sentinel_;
  }

 private:
  static i128 value(std::string_view d) {
    i128 v = 0;
    for (char c : d) v = v * 10 + (c - '0');
    return v;
  }
  i128 sentinel_ = 0;
};

void append_item(const RangeSet& rs, std::size_t from, std::size_t to, bool* first,
                 std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->append(rs[from]);
  if (to > from) {
    out->push_back('-');
    out->append(rs[to]);
  }
}

void append_singles(const RangeSet& rs, std::size_t from, std::size_t to_excl, bool* first,
                    std::string* out) {
  for (std::size_t k = from; k < to_excl; ++k) append_item(rs, k, k, first, out);
}

// One-dimensional folding exactly as ClusterShell 1.9 prints a RangeSet (autostep disabled,
// RangeSet._slices_padding). Values are walked in num_less order. The state is the start of
// the current chain, the padding of the element that opened it, and the step of the chain.
// A chain is cut when the next value's padding does not fit the state (a zero-padded state
// accepts only values of its width, an unpadded one only unpadded values) or when it breaks
// the step. Contiguous chains print as "a-b"; chains with a larger step print as singles, and
// there nodeset restarts the chain at the last value *without* taking that value's padding: so
// in "07,98,99,100" the chain 98-99 still carries the width 2 of "07" and 100 cannot join it
// ("07,98-99,100"). The output strings are always the original digit runs.
void fold_1d(const RangeSet& rs, std::string* out) {
  if (rs.empty()) return;
  constexpr i128 kNone = 0;  // steps are >= 1 or negative sentinels, never 0
  Differ diff;
  bool first = true;
  std::size_t cs = 0, last = 0;
  bool st_padded = num_padded(rs[0]);
  std::size_t st_pad = rs[0].size();
  i128 step = kNone;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    const std::string_view s = rs[i];
    const bool pm = st_padded ? s.size() != st_pad : num_padded(s);
    i128 d = kNone;
    bool sm = false;
    if (!pm) {
      d = diff(rs[last], s);
      sm = step != kNone && step != d;
    }
    if (pm || sm) {
      const bool stepped = step == kNone || step == 1;
      if (stepped) {
        append_item(rs, cs, last, &first, out);
        cs = i;
        st_padded = num_padded(s);
        st_pad = s.size();
      } else {
        append_singles(rs, cs, pm ? last + 1 : last, &first, out);
        if (pm) {
          cs = i;
          st_padded = num_padded(s);
          st_pad = s.size();
        } else {
          cs = last;
        }
      }
      step = sm ? d : kNone;
      last = i;
      continue;
    }
    step = d;
    last = i;
  }
  if (step == kNone || step == 1) {
    append_item(rs, cs, last, &first, out);
  } else {
    append_singles(rs, cs, last + 1, &first, out);
  }
}

void append_dim(const RangeSet& rs, std::string* out) {
  if (rs.size() > 1) {
    out->push_back('[');
    fold_1d(rs, out);
    out->push_back(']');
  } else {
    out->append(rs.front());
  }
}

void append_unescaped_key(std::string_view key, std::string* out) {
  for (std::size_t i = 0; i < key.size(); ++i) {
    out->push_back(key[i]);
    if (key[i] == '%') ++i;  // "%%" -> "%"; "%s" never occurs without dimensions
  }
}

// The merge below calls these once per pair of vectors it compares, and one side is often a
// single value while the other has grown to thousands ("r[1-2]4444.44444444[0-4445,12]9n"
// merges 4446 points one by one into each of two vectors). So each operation handles the
// cases of sets that do not overlap and of a small side in O(small * log big), and walks both
// sets only when they are of comparable size; otherwise that merge is quadratic.

// True when small is at least this many times smaller than big: binary searches then.
constexpr std::size_t kSearchRatio = 16;

bool contains(const RangeSet& rs, std::string_view x) {
  return std::binary_search(rs.begin(), rs.end(), x, num_less);
}

// Adds the values of b to a (both sorted by num_less, unique).
void unite_into(RangeSet* a, const RangeSet& b) {
  if (b.empty()) return;
  if (a->empty() || num_less(a->back(), b.front())) {
    a->insert(a->end(), b.begin(), b.end());
    return;
  }
  if (b.size() * kSearchRatio <= a->size()) {
    for (std::string_view x : b) {
      auto at = std::lower_bound(a->begin(), a->end(), x, num_less);
      if (at == a->end() || *at != x) a->insert(at, x);
    }
    return;
  }
  RangeSet r;
  r.reserve(a->size() + b.size());
  std::set_union(a->begin(), a->end(), b.begin(), b.end(), std::back_inserter(r), num_less);
  a->swap(r);
}

bool disjoint(const RangeSet& a, const RangeSet& b) {
  if (a.empty() || b.empty()) return true;
  if (num_less(a.back(), b.front()) || num_less(b.back(), a.front())) return true;
  const RangeSet& small = a.size() <= b.size() ? a : b;
  const RangeSet& big = a.size() <= b.size() ? b : a;
  if (small.size() * kSearchRatio <= big.size()) {
    for (std::string_view x : small)
      if (contains(big, x)) return false;
    return true;
  }
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (num_less(a[i], b[j])) {
      ++i;
    } else if (num_less(b[j], a[i])) {
      ++j;
    } else {
      return false;
    }
  }
  return true;
}

bool includes(const RangeSet& big, const RangeSet& small) {
  if (small.empty()) return true;
  if (big.empty() || num_less(small.front(), big.front()) || num_less(big.back(), small.back()))
    return false;
  if (small.size() * kSearchRatio <= big.size()) {
    for (std::string_view x : small)
      if (!contains(big, x)) return false;
    return true;
  }
  return std::includes(big.begin(), big.end(), small.begin(), small.end(), num_less);
}

using Vec = std::vector<RangeSet>;  // one RangeSet per dimension

// ClusterShell's sort key of a vector: larger vectors first (number of points), then per
// dimension larger sets first, then by first and last value compared as plain strings.

bool vec_before(const Vec& a, const Vec& b) {
  std::uint64_t pa = 1, pb = 1;
  for (const auto& r : a) pa = sat_mul(pa, r.size());
  for (const auto& r : b) pb = sat_mul(pb, r.size());
  if (pa != pb) return pa > pb;
  for (std::size_t d = 0; d < a.size(); ++d) {
    if (a[d].size() != b[d].size()) return a[d].size() > b[d].size();
    if (a[d].front() != b[d].front()) return a[d].front() < b[d].front();
    if (a[d].back() != b[d].back()) return a[d].back() < b[d].back();
  }
  return false;
}

// Budget of vector comparisons for the exact multivariate merge; past it we fall back to
// folding the last dimension only (a valid, if longer, hostlist).
constexpr std::uint64_t kMergeBudget = 10'000'000;

// ClusterShell's multivariate folding (RangeSetND): start from one vector per point and
// repeatedly merge two vectors that are equal in every dimension but one, where that one is
// disjoint (union) or nested (keep the larger). Passes are "easy" (compare each vector with its
// successors until the first failure) until nothing changes, then "full" (all pairs).
bool fold_multivariate(std::vector<Vec>* list) {
  std::vector<Vec>& L = *list;
  std::uint64_t budget = kMergeBudget;
  std::vector<char> dead;
  bool full = false, chg = true;
  while (chg) {
    chg = false;
    std::stable_sort(L.begin(), L.end(), vec_before);
    dead.assign(L.size(), 0);
    const std::size_t dims = L.empty() ? 0 : L.front().size();
    for (std::size_t i1 = 0; i1 < L.size(); ++i1) {
      if (dead[i1]) continue;
      for (std::size_t i2 = i1 + 1; i2 < L.size(); ++i2) {
        if (dead[i2]) continue;
        if (budget-- == 0) return false;
        Vec& a = L[i1];
        const Vec& b = L[i2];
        int nb_diff = 0;
        std::size_t diff_dim = 0;
        int how = 0;  // 1: union, 2: keep b (b is the larger)
        for (std::size_t d = 0; d < dims && nb_diff <= 1; ++d) {
          if (a[d] == b[d]) continue;
          if (disjoint(a[d], b[d])) {
            ++nb_diff;
            diff_dim = d;
            how = 1;
          } else if (a[d].size() > b[d].size() && includes(a[d], b[d])) {
            ++nb_diff;
            diff_dim = d;
            how = 0;
          } else if (b[d].size() > a[d].size() && includes(b[d], a[d])) {
            ++nb_diff;
            diff_dim = d;
            how = 2;
          } else {
            nb_diff = 2;
          }
        }
        if (nb_diff <= 1) {
          chg = true;
          if (nb_diff == 1) {
            if (how == 1) {
              unite_into(&a[diff_dim], b[diff_dim]);
            } else if (how == 2) {
              a[diff_dim] = b[diff_dim];
            }
          }
          dead[i2] = 1;
        } else if (!full) {
          break;
        }
      }
    }
    std::size_t w = 0;
    for (std::size_t r = 0; r < L.size(); ++r)
      if (!dead[r]) {
        if (w != r) L[w] = std::move(L[r]);
        ++w;
      }
    L.resize(w);
    if (!chg && !full) chg = full = true;
  }
  return true;
}

struct Pattern {
  std::string key;
  std::vector<std::string_view> lits;
  std::size_t dims = 0;
  std::vector<std::string_view> points;  // dims values per name, flattened
};

void emit_vec(const Pattern& p, const Vec& v, std::string* out) {
  for (std::size_t d = 0; d < p.dims; ++d) {
    out->append(p.lits[d]);
    append_dim(v[d], out);
  }
  out->append(p.lits[p.dims]);
}

// The folded vectors of one pattern with at least one dimension, in the order ClusterShell
// keeps them: a single vector when at most one dimension varies, otherwise the multivariate
// merge result.
std::vector<Vec> pattern_vectors(Pattern* p) {
  const std::size_t D = p->dims;
  const std::size_t n = p->points.size() / D;
  std::vector<Vec> list;
  if (D == 1) {
    RangeSet rs = std::move(p->points);
    std::sort(rs.begin(), rs.end(), num_less);
    rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
    list.push_back(Vec{std::move(rs)});
    return list;
  }
  // Sort points lexicographically (num_less per dimension) and drop duplicates.
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  const auto& pts = p->points;
  auto pt_less = [&](std::size_t a, std::size_t b) {
    for (std::size_t d = 0; d < D; ++d) {
      std::string_view x = pts[a * D + d], y = pts[b * D + d];
      if (x != y) return num_less(x, y);
    }
    return false;
  };
  auto pt_eq = [&](std::size_t a, std::size_t b) {
    for (std::size_t d = 0; d < D; ++d)
      if (pts[a * D + d] != pts[b * D + d]) return false;
    return true;
  };
  std::sort(idx.begin(), idx.end(), pt_less);
  idx.erase(std::unique(idx.begin(), idx.end(), pt_eq), idx.end());

  // Univariate: at most one dimension takes more than one value.
  std::size_t varying = 0, var_dim = 0;
  for (std::size_t d = 0; d < D; ++d) {
    for (std::size_t i : idx)
      if (pts[i * D + d] != pts[idx[0] * D + d]) {
        ++varying;
        var_dim = d;
        break;
      }
  }
  if (varying <= 1) {
    Vec v(D);
    for (std::size_t d = 0; d < D; ++d) v[d].push_back(pts[idx[0] * D + d]);
    if (varying == 1) {
      RangeSet& rs = v[var_dim];
      rs.clear();
      for (std::size_t i : idx) rs.push_back(pts[i * D + var_dim]);
      std::sort(rs.begin(), rs.end(), num_less);
      rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
    }
    list.push_back(std::move(v));
    return list;
  }

  list.reserve(idx.size());
  for (std::size_t i : idx) {
    Vec v(D);
    for (std::size_t d = 0; d < D; ++d) v[d].push_back(pts[i * D + d]);
    list.push_back(std::move(v));
  }
  if (fold_multivariate(&list)) return list;
  // Too large for the exact algorithm: fold along the last dimension only, points grouped by
  // their other dimensions (idx is sorted that way).
  list.clear();
  auto same_head = [&](std::size_t a, std::size_t b) {
    for (std::size_t d = 0; d + 1 < D; ++d)
      if (pts[a * D + d] != pts[b * D + d]) return false;
    return true;
  };
  for (std::size_t k = 0; k < idx.size();) {
    Vec v(D);
    for (std::size_t d = 0; d + 1 < D; ++d) v[d].push_back(pts[idx[k] * D + d]);
    std::size_t e = k;
    while (e < idx.size() && same_head(idx[k], idx[e])) {
      v[D - 1].push_back(pts[idx[e] * D + D - 1]);
      ++e;
    }
    list.push_back(std::move(v));
    k = e;
  }
  return list;
}

// Groups names by pattern; returns the patterns sorted by key (nodeset's output order).
// The string_views point into `names`.
std::vector<Pattern> build_patterns(const std::vector<std::string>& names) {
  std::unordered_map<std::string, std::size_t> by_key;
  std::vector<Pattern> patterns;
  Split sp;
  for (const std::string& name : names) {
    if (name.empty()) continue;
    split_name(name, &sp);
    auto [it, inserted] = by_key.try_emplace(sp.key, patterns.size());
    if (inserted) {
      Pattern p;
      p.key = sp.key;
      p.lits = sp.lits;
      p.dims = sp.digits.size();
      patterns.push_back(std::move(p));
    }
    Pattern& p = patterns[it->second];
    p.points.insert(p.points.end(), sp.digits.begin(), sp.digits.end());
  }
  std::sort(patterns.begin(), patterns.end(),
            [](const Pattern& a, const Pattern& b) { return a.key < b.key; });
  return patterns;
}

// Appends every name of v (cartesian product, first dimension slowest) to *out.
void emit_names(const Pattern& p, const Vec& v, std::size_t d, std::string* buf,
                std::vector<std::string>* out) {
  const std::size_t keep = buf->size();
  buf->append(p.lits[d]);
  if (d == p.dims) {
    out->push_back(*buf);
  } else {
    const std::size_t base = buf->size();
    for (std::string_view x : v[d]) {
      buf->resize(base);
      buf->append(x);
      emit_names(p, v, d + 1, buf, out);
    }
  }
  buf->resize(keep);
}

}  // namespace

bool expand(std::string_view expr, std::vector<std::string>* out, Error* err,
            std::size_t max_names) {
  Parser parser(expr, err);
  // Pass 1: parse and count every element, so nothing is allocated for an oversized list.
  std::vector<Element> elements;
  std::uint64_t total = 0;
  std::size_t pos = 0;
  for (;;) {
    Element el;
    if (!parser.element(&pos, &el)) return false;
    std::uint64_t count = 1;
    for (const Group& g : el.groups) count = sat_mul(count, g.count);
    total = sat_add(total, count);
    if (total > max_names)
      return parser.fail(el.column - 1,
                         "hostlist expands to more than " + std::to_string(max_names) + " names");
    elements.push_back(std::move(el));
    if (pos >= parser.size()) break;
    ++pos;  // ','
    if (pos >= parser.size()) return parser.fail(pos - 1, "empty element after ','");
  }
  // Pass 2: generate, keeping the first occurrence of each name.
  const std::size_t reserve = out->size() + static_cast<std::size_t>(total);
  out->reserve(reserve);
  IndexSet seen(reserve + 1, IndexHash{out}, IndexEq{out});
  for (std::size_t i = 0; i < out->size(); ++i) seen.insert(i);
  std::string buf;
  for (const Element& el : elements) generate(el, 0, &buf, out, &seen);
  return true;
}

// False when a dimension that would be written in brackets holds a digit run longer than
// expand() accepts inside brackets (kMaxDigits).
static bool bracketable(const Vec& v) {
  for (const RangeSet& rs : v)
    if (rs.size() > 1)
      for (std::string_view x : rs)
        if (x.size() > kMaxDigits) return false;
  return true;
}

std::string fold(const std::vector<std::string>& names) {
  std::vector<Pattern> patterns = build_patterns(names);
  std::string out;
  for (Pattern& p : patterns) {
    if (!out.empty()) out.push_back(',');
    if (p.dims == 0) {
      append_unescaped_key(p.key, &out);
      continue;
    }
    bool first = true;
    for (const Vec& v : pattern_vectors(&p)) {
      if (!first) out.push_back(',');
      first = false;
      if (!bracketable(v)) {
        // A range of digit runs longer than a bracket accepts ("n444...4[0010,5]9" makes
        // 21-24 digit runs): the names one by one, which expand() reads back.
        std::vector<std::string> names_of_v;
        std::string buf;
        emit_names(p, v, 0, &buf, &names_of_v);
        for (std::size_t i = 0; i < names_of_v.size(); ++i) {
          if (i) out.push_back(',');
          out.append(names_of_v[i]);
        }
        continue;
      }
      emit_vec(p, v, &out);
    }
  }
  return out;
}

bool name_less(std::string_view a, std::string_view b) {
  KeyStream ka(a), kb(b);
  for (;;) {
    int x = ka.next(), y = kb.next();
    if (x != y) return x < y;
    if (x < 0) break;
  }
  // Same pattern: compare digit runs in order.
  std::size_t i = 0, j = 0;
  for (;;) {
    while (i < a.size() && !is_digit(a[i])) ++i;
    while (j < b.size() && !is_digit(b[j])) ++j;
    if (i >= a.size() || j >= b.size()) return false;
    std::size_t ie = i, je = j;
    while (ie < a.size() && is_digit(a[ie])) ++ie;
    while (je < b.size() && is_digit(b[je])) ++je;
    std::string_view x = a.substr(i, ie - i), y = b.substr(j, je - j);
    if (x != y) return num_less(x, y);
    i = ie;
    j = je;
  }
}

void sort_unique(std::vector<std::string>* names) {
  std::vector<std::string> sorted;
  sorted.reserve(names->size());
  {
    std::vector<Pattern> patterns = build_patterns(*names);
    std::string buf;
    for (Pattern& p : patterns) {
      if (p.dims == 0) {
        sorted.emplace_back();
        append_unescaped_key(p.key, &sorted.back());
        continue;
      }
      for (const Vec& v : pattern_vectors(&p)) emit_names(p, v, 0, &buf, &sorted);
    }
  }  // the patterns point into *names: drop them before replacing it
  names->swap(sorted);
}

}  // namespace fleetpower::hostlist

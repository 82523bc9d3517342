// SPDX-License-Identifier: GPL-3.0-or-later
// Hostlist expansion and folding. Expected strings in the tables were checked against
// ClusterShell 1.9.1 (`nodeset -e` / `nodeset -f`); tests/integration/hostlist_nodeset.sh
// compares against the real nodeset on thousands of generated sets.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/hostlist.hpp"

namespace hl = fleetpower::hostlist;

namespace {

std::vector<std::string> expand_ok(const std::string& expr, std::size_t max = hl::kMaxNames) {
  std::vector<std::string> out;
  hl::Error err;
  INFO("expression: " << expr);
  bool ok = hl::expand(expr, &out, &err, max);
  INFO("error: col " << err.column << ": " << err.message);
  REQUIRE(ok);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += sep;
    s += x;
  }
  return s;
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string w;
  while (in >> w) v.push_back(w);
  return v;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::string expand_sorted(const std::string& expr) {
  auto v = expand_ok(expr);
  hl::sort_unique(&v);
  return join(v);
}

}  // namespace

TEST_CASE("expand: examples", "[hostlist]") {
  struct Case {
    const char* expr;
    const char* names;  // in expression order
  };
  const Case cases[] = {
      {"node1", "node1"},
      {"n[1-3]", "n1 n2 n3"},
      {"n[01-03]", "n01 n02 n03"},
      {"n[08-10]", "n08 n09 n10"},
      {"n[8-10]", "n8 n9 n10"},
      {"n[098-101]", "n098 n099 n100 n101"},
      {"n[00-01]", "n00 n01"},
      {"n[0-0]", "n0"},
      {"n[007]", "n007"},
      {"n[1-4]-ib", "n1-ib n2-ib n3-ib n4-ib"},
      {"n[1-9/2]", "n1 n3 n5 n7 n9"},
      {"n[01-10/3]", "n01 n04 n07 n10"},
      {"n[1-10/4]", "n1 n5 n9"},
      {"r[1-2]n[01-03]", "r1n01 r1n02 r1n03 r2n01 r2n02 r2n03"},
      {"r[1-2]n[1-2]-ib", "r1n1-ib r1n2-ib r2n1-ib r2n2-ib"},
      {"a,b,c", "a b c"},
      {"n[3,1,2]", "n3 n1 n2"},
      {"n[1,01,001]", "n1 n01 n001"},
      {"n[1-3],n[2-4]", "n1 n2 n3 n4"},
      {"n3,n1,n3,n[1-2]", "n3 n1 n2"},
      {"n[1-2]0", "n10 n20"},
      {"n1[0-2]", "n10 n11 n12"},
      {"[1-3]", "1 2 3"},
      {"127.1.0.[1-3]", "127.1.0.1 127.1.0.2 127.1.0.3"},
      {" n1 , n[ 2 - 3 ] ", "n1 n2 n3"},
      {"n[1 ,2]", "n1 n2"},
      {"gpu[01-02].example.com", "gpu01.example.com gpu02.example.com"},
      {"n[999999999999999998-999999999999999999]", "n999999999999999998 n999999999999999999"},
  };
  for (const auto& c : cases) {
    INFO(c.expr);
    CHECK(join(expand_ok(c.expr)) == c.names);
  }
}

TEST_CASE("expand: appends to existing names and keeps them unique", "[hostlist]") {
  std::vector<std::string> out{"n2", "x"};
  hl::Error err;
  REQUIRE(hl::expand("n[1-3]", &out, &err));
  CHECK(join(out) == "n2 x n1 n3");
}

TEST_CASE("expand: errors carry a message and a 1-based column", "[hostlist]") {
  struct Case {
    const char* expr;
    std::size_t column;
    const char* message_part;
  };
  const Case cases[] = {
      {"n[3-1]", 3, "below its start"},
      {"n[", 2, "missing ']'"},
      {"abc,n[1-2", 6, "missing ']'"},
      {"n]", 2, "without a matching '['"},
      {"n[1-2]]", 7, "without a matching '['"},
      {"n[1-]", 5, "missing the end of the range"},
      {"n[a-b]", 3, "expected a number, got 'a'"},
      {"n[1-b]", 5, "expected the end of the range, got 'b'"},
      {"a,,b", 3, "empty element"},
      {",a", 1, "empty element"},
      {"a,", 2, "empty element"},
      {"", 1, "empty hostlist"},
      {"  ", 1, "empty hostlist"},
      {"n[]", 3, "empty brackets"},
      {"n[1,]", 5, "empty range"},
      {"n[,1]", 3, "empty range"},
      {"n[1-010]", 3, "padding length mismatch"},
      {"n[01-100]", 3, "padding length mismatch"},
      {"n[001-10]", 3, "padding length mismatch"},
      {"x,n[5,9-010]", 7, "padding length mismatch"},
      {"n[1-9/0]", 7, "step must be at least 1"},
      {"n[5/2]", 4, "needs a range"},
      {"n[1-3/]", 7, "missing a step"},
      {"n[1-2][3-4]", 7, "two bracket groups"},
      {"n[[1-2]", 3, "'[' inside brackets"},
      {"n[-1]", 3, "negative"},
      {"n[1--2]", 5, "negative"},
      {"n[1-2x]", 6, "unexpected 'x'"},
      {"n[1 2]", 5, "unexpected '2'"},
      {"a b", 2, "blank inside a host name"},
      {"a!b", 2, "set operator '!'"},
      {"a&b", 2, "set operator '&'"},
      {"@rack1", 1, "group reference"},
      {"n[1234567890123456789]", 3, "number too large"},
      {"n[1-99999999999]", 1, "more than 1000000 names"},
      {"a,n[0-999999]", 3, "more than 1000000 names"},
      {"n[1-1000000]x[1-1000000]y[1-1000000]z[1-1000000]", 1, "more than"},
  };
  for (const auto& c : cases) {
    INFO("expression: '" << c.expr << "'");
    std::vector<std::string> out{"keep"};
    hl::Error err;
    CHECK_FALSE(hl::expand(c.expr, &out, &err));
    CHECK(err.column == c.column);
    CHECK_THAT(err.message, Catch::Matchers::Contains(c.message_part));
  }
}

TEST_CASE("expand: the name cap is checked before anything is generated", "[hostlist]") {
  std::vector<std::string> out;
  hl::Error err;
  CHECK(hl::expand("n[1-10]", &out, &err, 10));
  CHECK(out.size() == 10);
  out.clear();
  CHECK_FALSE(hl::expand("n[1-11]", &out, &err, 10));
  CHECK(out.empty());
  CHECK_FALSE(hl::expand("n[1-5],m[1-6]", &out, &err, 10));
  CHECK(err.column == 8);
  CHECK(out.empty());
  // A huge range must fail from the counts alone, without generating anything (if it tried,
  // this test would never finish).
  CHECK_FALSE(hl::expand("n[0-999999999999999999]", &out, &err));
  CHECK_FALSE(hl::expand("a[1-999999999]b[1-999999999]c[1-999999999]", &out, &err));
  CHECK(out.empty());
  // Exactly the cap is fine.
  CHECK(hl::expand("n[1-1000000]", &out, &err));
  CHECK(out.size() == hl::kMaxNames);
}

TEST_CASE("fold: digit runs too long for brackets are written out, and read back", "[hostlist]") {
  // Found by the hostlist fuzzer: 19 digits outside the brackets join the values inside into
  // 21-24 digit runs, which a bracket (at most 18 digits) cannot hold.
  std::vector<std::string> names;
  hl::Error err;
  REQUIRE(hl::expand("n4444444444444444444[0010,5,12]9", &names, &err));
  const std::string folded = hl::fold(names);
  CHECK(folded == "n444444444444444444459,n4444444444444444444129,n444444444444444444400109");
  std::vector<std::string> again;
  REQUIRE(hl::expand(folded, &again, &err));
  hl::sort_unique(&again);
  hl::sort_unique(&names);
  CHECK(again == names);
  // Short runs still fold into brackets next to them.
  CHECK(hl::fold({"a1", "a2", "a3"}) == "a[1-3]");
}

TEST_CASE("fold: matches nodeset -f", "[hostlist]") {
  struct Case {
    const char* names;  // blank separated, any order
    const char* folded;
  };
  const Case cases[] = {
      {"", ""},
      {"node1", "node1"},
      {"n1 n2 n3", "n[1-3]"},
      {"n3 n1 n2 n2", "n[1-3]"},
      {"n1 n3", "n[1,3]"},
      {"n08 n09 n10", "n[08-10]"},
      {"n8 n9 n10", "n[8-10]"},
      {"n099 n100", "n[099-100]"},
      {"n1 n01 n001", "n[1,01,001]"},
      {"n01 n1 n2 n02 n10", "n[1-2,01-02,10]"},
      {"n9 n10 n01", "n[9,01,10]"},
      {"n08 n10 n11", "n[08,10-11]"},
      {"n0 n00 n000", "n[0,00,000]"},
      {"n1-ib n2-ib n3", "n3,n[1-2]-ib"},
      {"foo bar n1", "bar,foo,n1"},
      {"n n1 n-a na", "n,n1,n-a,na"},
      {"n1%a", "n1%a"},
      {"1 2 3", "[1-3]"},
      {"n10 n20", "n[10,20]"},
      {"a-1-b", "a-1-b"},
      {"127.1.0.1 127.1.0.2", "127.1.0.[1-2]"},
      {"r1n01 r1n02 r2n01 r2n02", "r[1-2]n[01-02]"},
      {"r1n01 r1n02 r2n01", "r1n[01-02],r2n01"},
      {"r1n1 r1n2 r2n1 r2n2 r3n1", "r[1-2]n[1-2],r3n1"},
      {"r1n1 r2n2", "r1n1,r2n2"},
      {"r1n1 r1n2 r2n1 r2n2 r3n1 r3n2 r3n3", "r[1-2]n[1-2],r3n[1-3]"},
      {"n1x2 n1x4 n3x2 n3x4", "n[1,3]x[2,4]"},
      // nodeset restarts a stepped chain without taking the new value's padding
      {"n07 n98 n99 n100", "n[07,98-99,100]"},
      {"n03 n04 n05 n07 n98 n99 n100", "n[03-05,07,98-99,100]"},
      {"n098 n099 n100", "n[098-100]"},
      {"n1 n3 n5 n6 n7", "n[1,3,5-7]"},
      {"n1 n2 n3 n5 n6", "n[1-3,5-6]"},
      // Digit runs longer than a bracket takes on input (18 digits): nodeset writes
      // n[1234...012-1234...013]; fleetpower writes the names out, so that what it prints is
      // always a selection it accepts (found by the hostlist fuzzer). nodeset reads both.
      {"n123456789012345678901234567890123456789012 n123456789012345678901234567890123456789013",
       "n123456789012345678901234567890123456789012,n123456789012345678901234567890123456789013"},
      {"n99999999999999999999999999999999999999999 n100000000000000000000000000000000000000000",
       "n99999999999999999999999999999999999999999,n100000000000000000000000000000000000000000"},
  };
  for (const auto& c : cases) {
    INFO(c.names);
    CHECK(hl::fold(split_ws(c.names)) == c.folded);
  }
}

TEST_CASE("sort_unique: several digit runs follow nodeset's vectors, not name_less", "[hostlist]") {
  // ClusterShell 1.9: `nodeset -e 1a9,061a4` prints "061a4 1a9"; name_less compares run by run
  // (1 < 061).  The fuzzer's order check applies to one-run names only (fuzz_hostlist.cpp).
  std::vector<std::string> v{"1a9", "061a4", "1a9"};
  hl::sort_unique(&v);
  CHECK(v == std::vector<std::string>{"061a4", "1a9"});
  CHECK(hl::name_less("1a9", "061a4"));
}

TEST_CASE("sort_unique: nodeset -e order", "[hostlist]") {
  CHECK(expand_sorted("n01,n1,n2,n02,n10") == "n1 n2 n01 n02 n10");
  CHECK(expand_sorted("n9,n10,n01") == "n9 n01 n10");
  CHECK(expand_sorted("n1-ib,n2-ib,n3") == "n3 n1-ib n2-ib");
  CHECK(expand_sorted("foo,bar,n1") == "bar foo n1");
  CHECK(expand_sorted("n1,n-a,na,n") == "n n1 n-a na");
  CHECK(expand_sorted("r[1-2]n[1-2],r3n[1-3]") == "r1n1 r1n2 r2n1 r2n2 r3n1 r3n2 r3n3");
  CHECK(hl::name_less("n9", "n01"));
  CHECK(hl::name_less("n01", "n10"));
  CHECK_FALSE(hl::name_less("n10", "n10"));
  CHECK(hl::name_less("n5", "n1-ib"));
}

// --- generated sets -------------------------------------------------------------------------

namespace {

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  std::uint64_t below(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
  }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  static std::string num(std::uint64_t v, unsigned width) {
    std::string s = std::to_string(v);
    if (s.size() < width) s.insert(0, width - s.size(), '0');
    return s;
  }

  // A random set of names: several patterns (prefix, optional second digit run, suffix), each
  // with runs and gaps of numbers, padded and unpadded widths mixed.
  std::vector<std::string> names() {
    static const std::vector<std::string> prefixes{"n", "node", "gpu-", "c.", "x_", "A", ""};
    static const std::vector<std::string> suffixes{"", "", "-ib", ".mgmt", "b"};
    std::vector<std::string> out;
    const std::size_t patterns = 1 + below(3);
    for (std::size_t p = 0; p < patterns; ++p) {
      std::string prefix = pick(prefixes);
      const std::string suffix = pick(suffixes);
      if (prefix.empty() && suffix.empty()) prefix = "h";
      const bool two_d = below(4) == 0;
      const std::size_t rows = two_d ? 1 + below(4) : 1;
      for (std::size_t r = 0; r < rows; ++r) {
        const std::string head = two_d ? prefix + "r" + std::to_string(below(6)) + "n" : prefix;
        const unsigned width = static_cast<unsigned>(pick(std::vector<unsigned>{0, 0, 1, 2, 3}));
        const std::uint64_t limit = width == 0 ? 5000 : (width == 1 ? 10 : width == 2 ? 100 : 1000);
        std::uint64_t cur = below(limit / 2 + 1);
        const std::size_t nruns = 1 + below(6);
        for (std::size_t k = 0; k < nruns && cur < limit; ++k) {
          const std::uint64_t len = 1 + below(below(2) ? 4 : 60);
          for (std::uint64_t v = cur; v < cur + len && v < limit; ++v)
            out.push_back(head + num(v, width) + suffix);
          cur += len + 1 + below(below(2) ? 3 : 200);
        }
      }
    }
    if (below(5) == 0) out.push_back("login");
    std::shuffle(out.begin(), out.end(), rng);
    // some duplicates
    for (std::size_t k = below(3); k > 0 && !out.empty(); --k)
      out.push_back(out[below(out.size())]);
    return out;
  }

  // A random, non-canonical expression: bracket items out of order, overlapping ranges, steps.
  std::string expression() {
    static const std::vector<std::string> prefixes{"n", "node", "r1n", "cn-", "x"};
    static const std::vector<std::string> suffixes{"", "", "-ib", ".a"};
    std::string expr;
    const std::size_t elements = 1 + below(4);
    for (std::size_t e = 0; e < elements; ++e) {
      if (!expr.empty()) expr += ',';
      expr += pick(prefixes);
      const std::size_t groups = below(4) == 0 ? 2 : 1;
      for (std::size_t g = 0; g < groups; ++g) {
        if (g > 0) expr += "y";
        expr += '[';
        const std::size_t items = 1 + below(4);
        for (std::size_t i = 0; i < items; ++i) {
          if (i > 0) expr += ',';
          const unsigned width = below(3) == 0 ? 2 + static_cast<unsigned>(below(2)) : 0;
          const std::uint64_t limit = width ? (width == 2 ? 100 : 1000) : 300;
          const std::uint64_t a = below(limit);
          const std::uint64_t b = a + below(std::min<std::uint64_t>(limit - a, 40));
          if (a == b || below(5) == 0) {
            expr += num(a, width);
          } else if (below(4) == 0) {
            expr += num(a, width) + "-" + num(b, width) + "/" + std::to_string(1 + below(5));
          } else {
            expr += num(a, width) + "-" + num(b, width);
          }
        }
        expr += ']';
      }
      expr += pick(suffixes);
    }
    return expr;
  }
};

std::uint64_t test_seed() {
  if (const char* s = std::getenv("FP_HOSTLIST_SEED")) return std::strtoull(s, nullptr, 10);
  return 20261126;
}

}  // namespace

TEST_CASE("fold/expand round trip over generated name sets", "[hostlist][property]") {
  const std::uint64_t seed = test_seed();
  Gen gen(seed);
  for (int iter = 0; iter < 1500; ++iter) {
    const std::vector<std::string> names = gen.names();
    const std::string folded = hl::fold(names);
    INFO("seed " << seed << " iteration " << iter << "\nnames: " << join(names)
                 << "\nfolded: " << folded);
    // expand(fold(set)) == set, in nodeset -e order
    std::vector<std::string> back = expand_ok(folded);
    std::vector<std::string> want = names;
    hl::sort_unique(&want);
    CHECK(as_set(back) == as_set(names));
    CHECK(back.size() == want.size());
    hl::sort_unique(&back);
    CHECK(back == want);
    // folding is canonical: folding the expansion again gives the same string
    CHECK(hl::fold(back) == folded);
    // sort_unique agrees with name_less for one-digit-run names
    std::vector<std::string> by_less = names;
    std::sort(by_less.begin(), by_less.end(),
              [](const std::string& a, const std::string& b) { return hl::name_less(a, b); });
    by_less.erase(std::unique(by_less.begin(), by_less.end()), by_less.end());
    CHECK(as_set(by_less) == as_set(want));
  }
}

TEST_CASE("expand/fold round trip over generated expressions", "[hostlist][property]") {
  const std::uint64_t seed = test_seed() + 1;
  Gen gen(seed);
  for (int iter = 0; iter < 1500; ++iter) {
    const std::string expr = gen.expression();
    std::vector<std::string> out;
    hl::Error err;
    INFO("seed " << seed << " iteration " << iter << " expression: " << expr);
    REQUIRE(hl::expand(expr, &out, &err));
    CHECK(as_set(out).size() == out.size());  // no duplicates
    const std::string folded = hl::fold(out);
    INFO("folded: " << folded);
    // fold(expand(x)) expands to the same set
    std::vector<std::string> again = expand_ok(folded);
    CHECK(as_set(again) == as_set(out));
    CHECK(again.size() == out.size());
    CHECK(hl::fold(again) == folded);
  }
}

TEST_CASE("fold: 100,000 shuffled names", "[hostlist]") {
  std::vector<std::string> names;
  names.reserve(100'000);
  for (int i = 0; i < 100'000; ++i)
    if (i % 97 != 0) names.push_back("node" + std::to_string(100'000 + i));
  std::shuffle(names.begin(), names.end(), std::mt19937(1));
  const std::string folded = hl::fold(names);
  CHECK(folded.rfind("node[100001-100096,100098-", 0) == 0);
  CHECK(as_set(expand_ok(folded)) == as_set(names));
}

TEST_CASE("fold: two varying dimensions with thousands of values", "[hostlist]") {
  // The multivariate merge takes the points one by one into growing sets; the hostlist fuzzer
  // found it quadratic there ("r[1-2]4444.44444444[0-4445,12]9n": 10 s under ASan). The
  // expected strings are nodeset -f's for the same names (ClusterShell 1.9).
  const std::pair<const char*, const char*> cases[] = {
      {"r[1-2]n[0-4445]", "r[1-2]n[0-4445]"},
      {"r[1-3]n[1-3000]", "r[1-3]n[1-3000]"},
      {"r[1-40]n[1-200,300-350]x[1-2]", "r[1-40]n[1-200,300-350]x[1-2]"},
      // values whose text order is not their numeric order (1000 sorts before 95 as text)
      {"a[9-12]b[95-105,1000-1010]", "a[9-12]b[95-105,1000-1010]"},
  };
  for (const auto& [expr, folded] : cases) {
    INFO(expr);
    std::vector<std::string> names = expand_ok(expr);
    std::shuffle(names.begin(), names.end(), std::mt19937(7));
    CHECK(hl::fold(names) == folded);
  }
}

// Reads cases written by tests/integration/lib/gen_hostlists.py (expression, nodeset -e output,
// nodeset -f output, tab separated) from $FP_HOSTLIST_CASES. Hidden: run by the integration
// test `hostlist_nodeset.sh`, which has ClusterShell at hand.
TEST_CASE("agrees with ClusterShell nodeset on generated cases", "[.][nodeset]") {
  const char* path = std::getenv("FP_HOSTLIST_CASES");
  if (!path) {
    WARN("FP_HOSTLIST_CASES not set; nothing to compare");
    return;
  }
  std::ifstream in(path);
  REQUIRE(in.good());
  std::string line;
  std::size_t n = 0, bad = 0;
  while (std::getline(in, line)) {
    const auto t1 = line.find('\t');
    const auto t2 = line.find('\t', t1 + 1);
    REQUIRE(t2 != std::string::npos);
    const std::string expr = line.substr(0, t1);
    const std::string expanded = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string folded = line.substr(t2 + 1);
    std::vector<std::string> out;
    hl::Error err;
    const bool ok = hl::expand(expr, &out, &err);
    std::string got_fold, got_exp;
    if (ok) {
      got_fold = hl::fold(out);
      hl::sort_unique(&out);
      got_exp = join(out);
    }
    ++n;
    if (!ok || got_fold != folded || got_exp != expanded) {
      ++bad;
      if (bad <= 5) {
        INFO("expression: " << expr << "\nerror: " << err.message);
        CHECK(got_fold == folded);
        CHECK(got_exp == expanded);
      }
    }
  }
  INFO(n << " cases, " << bad << " disagree");
  CHECK(n > 0);
  CHECK(bad == 0);
}

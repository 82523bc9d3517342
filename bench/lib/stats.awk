# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the bench/ scripts' table code (mawk and gawk): samples per key, medians, ratios.
# Usage: awk -F'\t' -f bench/lib/stats.awk -f <(table program) RAW
#   sample(k, name, v)  records one round's value of `name` for row key k
#   med(k, name)        median of the recorded values (0 when there are none)
#   vmin(k, name), vmax(k, name), count(k, name)
#   ratio(x, base, fmt) sprintf(fmt, x / base), "-" when base (or x) is not positive
#   first_seen(v)       remembers the order in which values (e.g. N) first appeared: order[1..norder]

function median(arr, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
function sample(k, name, v) { _S[k, name, ++_N[k, name]] = v }
function count(k, name) { return (k SUBSEP name) in _N ? _N[k, name] : 0 }
function med(k, name,   n, i, a) {
    n = count(k, name)
    if (n == 0) return 0
    for (i = 1; i <= n; i++) a[i] = _S[k, name, i] + 0
    return median(a, n)
}
function vmin(k, name,   n, i, m) {
    n = count(k, name); m = 0
    for (i = 1; i <= n; i++) if (i == 1 || _S[k, name, i] + 0 < m) m = _S[k, name, i] + 0
    return m
}
function vmax(k, name,   n, i, m) {
    n = count(k, name); m = 0
    for (i = 1; i <= n; i++) if (i == 1 || _S[k, name, i] + 0 > m) m = _S[k, name, i] + 0
    return m
}
function ratio(x, base, fmt) { return (base > 0 && x > 0) ? sprintf(fmt, x / base) : "-" }
function first_seen(v) { if (!(v in _seen)) { _seen[v] = 1; order[++norder] = v } }

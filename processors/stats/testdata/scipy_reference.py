"""Reference values for processors/stats tests.

Run once by hand with Debian 12's packages (python3-scipy 1.10.1,
python3-numpy 1.24.2, python3-statsmodels 0.13.5):

    /usr/bin/python3 processors/stats/testdata/scipy_reference.py

The printed values are pasted into reference_test.go. Not run by `go test`.
"""
import numpy as np
import scipy
import statsmodels
from scipy import stats, special
from scipy.spatial import distance
from statsmodels.stats.proportion import proportion_confint, proportions_ztest
from statsmodels.stats.multitest import multipletests

print("# scipy", scipy.__version__, "numpy", np.__version__, "statsmodels", statsmodels.__version__)

# Small samples with ties (numpy default_rng(20240601) normals rounded to 0.1).
X = [0.6, 0.5, -0.6, -1.2, -0.1, 1.2, 1.3, 0.9, 0.3, 1.6, 1.2, -0.2, -1.1, -0.4, -0.4, 0.7, -1.9, -0.2, 1.7, -0.9, -0.8, -0.1, -1.4, -0.1, -0.0]
Y = [0.5, -0.8, 0.0, 1.3, -0.4, 1.2, 1.4, -1.4, -0.3, 1.4, 1.1, 0.7, 0.0, 0.6, 2.9, 0.2, 1.3, -0.0, 0.2, 1.3, -0.7, 0.2, -0.3, -0.6, 0.7, 2.1, 0.8, 0.0, -1.4, 1.6]
# Larger integer-valued samples, identical bit for bit in Go.
BX = [((i * 7919) % 1009) / 10.0 for i in range(200)]
BY = [((j * 104729) % 1013) / 10.0 + 8 for j in range(150)]
# Category counts.
P = [20, 19, 38, 35, 13, 40, 44, 46, 22, 18, 28, 48]
Q = [35, 43, 2, 48, 23, 37, 48, 8, 24, 34, 25, 43]
PZ = [20, 0, 38, 35, 13, 40, 44, 46, 22, 18, 28, 48]

def show(name, v):
    print(f"{name} = {v!r}")

r = stats.ks_2samp(X, Y, method="exact"); show("ks_small", (r.statistic, r.pvalue))
r = stats.ks_2samp(BX, BY, method="exact"); show("ks_big", (r.statistic, r.pvalue))
r = stats.ks_2samp(BX, BY, method="auto"); show("ks_big_auto", (r.statistic, r.pvalue))
r = stats.ks_2samp(BX, [v + 20 for v in BY], method="exact"); show("ks_shift", (r.statistic, r.pvalue))
show("kolmogorov", [float(special.kolmogorov(v)) for v in (0.1, 0.3, 0.8, 0.99, 1.0, 1.36, 2.5, 4.0)])

# Histogram KS over common edges: D over edges, p = kolmogorov(sqrt(en)*D).
edges = np.linspace(-2, 2, 9)
def hcounts(s):
    s = np.asarray(s)
    inner, _ = np.histogram(s[(s >= edges[0]) & (s < edges[-1])], bins=edges)
    return [int((s < edges[0]).sum())] + list(map(int, inner)) + [int((s >= edges[-1]).sum())]
hx, hy = hcounts(X), hcounts(Y)
show("hist_counts", (hx, hy))
fx = np.cumsum(hx)[:-1] / sum(hx); fy = np.cumsum(hy)[:-1] / sum(hy)
d = np.max(np.abs(fx - fy)); en = len(X) * len(Y) / (len(X) + len(Y))
show("ks_hist", (d, float(special.kolmogorov(np.sqrt(en) * d))))

show("wasserstein_samples", stats.wasserstein_distance(X, Y))
show("wasserstein_big", stats.wasserstein_distance(BX, BY))
mid = [edges[0]] + list((edges[:-1] + edges[1:]) / 2) + [edges[-1]]
show("wasserstein_hist", stats.wasserstein_distance(mid, mid, hx, hy))

for name, a, b in (("chi2_12", P, Q), ("chi2_2x2", [30, 70], [45, 55])):
    c = stats.chi2_contingency([a, b], correction=False)
    show(name, (c[0], c[2], c[1]))

r = stats.mannwhitneyu(X, Y, method="asymptotic"); show("mwu_small", (r.statistic, r.pvalue))
r = stats.mannwhitneyu(BX, BY, method="asymptotic"); show("mwu_big", (r.statistic, r.pvalue))

m1, v1, m2, v2 = np.mean(X), np.var(X, ddof=1), np.mean(Y), np.var(Y, ddof=1)
show("moments", (m1, v1, m2, v2))
r = stats.ttest_ind_from_stats(m1, np.sqrt(v1), len(X), m2, np.sqrt(v2), len(Y), equal_var=False)
a, b = v1 / len(X), v2 / len(Y)
df = (a + b) ** 2 / (a * a / (len(X) - 1) + b * b / (len(Y) - 1))
q = stats.t.ppf(0.975, df)
show("welch_xy", (r.statistic, df, r.pvalue, m1 - m2 - q * np.sqrt(a + b), m1 - m2 + q * np.sqrt(a + b)))
r = stats.ttest_ind_from_stats(10.0, 2.0, 1000, 10.4, 3.0, 800, equal_var=False)
show("welch_stats", (r.statistic, r.pvalue))

show("js", distance.jensenshannon(P, Q, base=2))
show("js_zero", distance.jensenshannon(PZ, Q, base=2))

# PSI by its definition (no SciPy function exists): proportions floored at 1e-4.
def psi(a, b):
    a = np.maximum(np.asarray(a, float) / sum(a), 1e-4)
    b = np.maximum(np.asarray(b, float) / sum(b), 1e-4)
    return float(np.sum((b - a) * np.log(b / a)))
show("psi", psi(P, Q)); show("psi_zero", psi(PZ, Q))

z, p = proportions_ztest([45, 60], [200, 210]); show("prop_ztest", (z, p))
show("wilson", proportion_confint(45, 200, alpha=0.05, method="wilson"))
show("wilson_zero", proportion_confint(0, 50, alpha=0.05, method="wilson"))
p1, p2 = 45 / 200, 60 / 210
h = stats.norm.ppf(0.975) * np.sqrt(p1 * (1 - p1) / 200 + p2 * (1 - p2) / 210)
show("prop_wald_ci", (p1 - p2 - h, p1 - p2 + h))

pv = [0.01, 0.04, 0.03, 0.005, 0.2]
show("holm", list(multipletests(pv, method="holm")[1]))
show("bh", list(multipletests(pv, method="fdr_bh")[1]))

# MMD² (unbiased, Gretton et al. 2012 eq. 3) by its definition.
E1 = np.array([[0.1, 0.2, 0.0], [0.3, -0.1, 0.5], [0.0, 0.4, 0.2], [0.2, 0.2, 0.1]])
E2 = np.array([[0.5, 0.1, 0.3], [0.6, 0.0, 0.2], [0.4, 0.3, 0.6]])
def mmd2(x, y, k):
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy
show("mmd2_linear", mmd2(E1, E2, lambda a, b: float(a @ b)))
show("mmd2_rbf_0.5", mmd2(E1, E2, lambda a, b: float(np.exp(-np.sum((a - b) ** 2) / (2 * 0.25)))))
show("centroid_cos", distance.cosine(E1.mean(0), E2.mean(0)))
show("centroid_euc", distance.euclidean(E1.mean(0), E2.mean(0)))

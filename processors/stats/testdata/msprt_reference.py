"""Reference values for the sequential mSPRT tests (processors/stats
sequential_test.go, processors/window experiment_sim_test.go).

Closed forms evaluated with Python 3's math module only (math.erfc is the C
library's, independent of Go's); no SciPy needed, Phi(x) = erfc(-x/sqrt 2)/2
is scipy.stats.norm.cdf(x). Run by hand:

    python3 processors/stats/testdata/msprt_reference.py

The printed values are pasted into the tests. Not run by `go test`.
"""
import math


def phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def half_width(v, tau2, alpha):
    # Robbins' (1970) two-sided normal-mixture boundary in the scale of the
    # estimate: the theta0 with 1/Lambda(theta_hat - theta0) = alpha.
    return math.sqrt(v * (v + tau2) / tau2 * math.log((v + tau2) / (v * alpha * alpha)))


# MSPRTInterval(0.3, 0.01, 0.01, 0.05): theta_hat -+ h.
h = half_width(0.01, 0.01, 0.05)
print("interval_0.3_0.01_0.01_0.05 =", repr(0.3 - h), repr(0.3 + h))

# First look of an experiment with n = 2000 events per arm of unit variance
# (V = 2/n), mixing sd 0.1 (tau2 = 0.01), alpha = 0.05: the mSPRT rejects
# iff |theta_hat| >= h, a fixed-horizon z-test with critical value h/sqrt(V).
v, tau2, alpha = 2 / 2000, 0.01, 0.05
h = half_width(v, tau2, alpha)
print("first_look_critical_z =", repr(h / math.sqrt(v)))
for effect in (0.0, 0.05, 0.2):
    p = phi((effect - h) / math.sqrt(v)) + phi((-effect - h) / math.sqrt(v))
    print(f"first_look_reject_prob_{effect} =", repr(p))

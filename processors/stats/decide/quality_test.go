package decide

import (
	"testing"
	"time"
)

// TestDetectionQuality runs the synthetic streams of DetectionQuality and
// asserts the targets: a 0.2-SD mean shift at 2,000 events per window found
// in >= 95% of windows with <= 1% false drift on stationary windows, and a
// 20% vs 25% disparity between two groups of 2,000 found in >= 80% of
// windows with <= 1% false findings on parity. 4,000 windows per scenario
// keep the sampling error of each rate below 0.4 points (binomial SE).
func TestDetectionQuality(t *testing.T) {
	windows := 4000
	if testing.Short() {
		windows = 1000
	}
	start := time.Now()
	r := DetectionQuality(1, windows)
	t.Logf("windows=%d events/window=%d: drift detected %.2f%% (target >= %.0f%%), drift false %.2f%% (target <= %.0f%%), bias detected %.2f%% (target >= %.0f%%), bias false %.2f%% (target <= %.0f%%) in %v",
		r.Windows, r.EventsPerWindow, 100*r.DriftDetected, 100*TargetDriftDetection, 100*r.DriftFalse, 100*TargetDriftFalse,
		100*r.BiasDetected, 100*TargetBiasDetection, 100*r.BiasFalse, 100*TargetBiasFalse, time.Since(start).Round(time.Millisecond))
	if r.DriftDetected < TargetDriftDetection {
		t.Errorf("drift detection %.4f < %.2f", r.DriftDetected, TargetDriftDetection)
	}
	if r.DriftFalse > TargetDriftFalse {
		t.Errorf("drift false alarms %.4f > %.2f", r.DriftFalse, TargetDriftFalse)
	}
	if r.BiasDetected < TargetBiasDetection {
		t.Errorf("bias detection %.4f < %.2f", r.BiasDetected, TargetBiasDetection)
	}
	if r.BiasFalse > TargetBiasFalse {
		t.Errorf("bias false findings %.4f > %.2f", r.BiasFalse, TargetBiasFalse)
	}
	if !r.Pass {
		t.Error("report does not pass")
	}
	if again := DetectionQuality(1, 50); again != DetectionQuality(1, 50) {
		t.Error("DetectionQuality is not deterministic for a fixed seed")
	}
}

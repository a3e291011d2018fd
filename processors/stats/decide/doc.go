// Package decide turns the statistics of package stats into yes/no findings
// for one window: has a feature drifted from its baseline, does a segment
// attribute show an outcome disparity. It owns the default thresholds, so
// that alert rules, dashboards and the detection-quality report
// (DetectionQuality, behind `sightline report quality`) agree on what a
// finding is.
//
// Like stats it never panics on empty or mismatched input: a window without
// enough data gives a decision with Sufficient = false and no finding.
package decide

// Package newdetector holds the test that walks the path of adding a
// detector (processors/detectors' doc): a detector that exists only in
// the test, one registry entry and one migration, and nothing else, is
// stored in llm_events, written by `sightline eval`, exported as
// gen_ai.evaluation.result and counted as a windowed rate. The package
// has no code: it must never be imported.
package newdetector

// Package refusal flags completions in which the model declines the request
// ("I can't help with that", "I'm sorry, but I cannot", "As an AI language
// model, I am unable to", "I won't be able to assist", and basic Spanish,
// French, German, Italian and Portuguese forms), with a confidence in [0,1].
//
// It must never: call a completion a refusal because it says that something
// cannot be done ("You cannot assign to a constant", "I can't wait to help",
// "Sorry for the delay, here is the answer"), panic on any input, or log
// event content.
//
// Method: the opening of the completion (600 bytes by default) is normalized
// (case, curly apostrophes, contractions expanded) and searched for a
// first-person negated ability or will followed by a verb of serving the
// request, or a bare decline; see Detector.Confidence for the scale.
//
// A raw-byte scan for the stems every phrase contains ("I", "sorry",
// "unable" forms, "puedo", "kann", ...) comes first; text without one scores
// 0 without being normalized. FuzzPrefilter checks it against the full check.
//
// Tests: go test ./processors/detectors/refusal -v (26 refusal forms, 15 hard
// negatives); benchmark: go test ./processors/detectors/refusal -run XXX -bench . -benchmem
// -count 5, on a shared, loaded 2-core machine: an ordinary answer 0.63–0.69
// µs (was 5.0), a refusal 4.0–4.3 µs (was 4.1–4.4), 0 allocs (was 640 B, 1).
package refusal

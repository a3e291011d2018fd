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
// Tests: go test ./processors/refusal -v (26 refusal forms, 15 hard
// negatives); benchmark: go test ./processors/refusal -run XXX -bench . -benchmem
package refusal

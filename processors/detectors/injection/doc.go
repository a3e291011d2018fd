// Package injection scores, in [0,1], how likely the prompt of an event is a
// prompt-injection or jailbreak attempt, and names the phrases that drove
// the score.
//
// It must never log or retain prompt text and never panic on any input.
// Evidence is the canonical string of a matched cue (not a copy of the
// prompt) or a single normalized word without digits.
//
// # Model
//
// Logistic regression over two kinds of features of the normalized prompt
// (hashing.Normalize):
//
//   - one 0/1 feature per cue category (cues.go): hand-written attack
//     phrases in twelve categories (override previous instructions, DAN-style
//     personas, developer/god mode, system-prompt exfiltration, requests for
//     secrets, "no restrictions", forged system turns and authority claims,
//     hypothetical wrappers, output dictation, encodings, override wording in
//     other languages, instructions addressed to the AI inside retrieved
//     data), plus proximity rules ("ignore/forget …" within five words of
//     "instructions/rules/prompt", "reveal/print …" near "secret/prompt");
//   - 2^16 hashed word unigrams, bigrams and character 4-grams, scaled by
//     1/sqrt(n).
//
// The hashed weights are damped hard (λ=1e-2) and the cue weights lightly
// (λ=1e-4): the dev data's benign rows are all security-themed coding
// requests, so free n-gram weights learn topic ("short question" = attack)
// rather than intent. Training adds Augmentation(), a hand-written set of
// ordinary benign prompts and classic jailbreaks (augment_*.txt), weighs the
// classes equally, and finally shifts the bias by logit(0.1): the score is the
// posterior under a 10% prior of attacks, so a prompt with no evidence
// either way scores low. Training is deterministic; the model ships as
// model.bin.gz (about 40 KB). Retrain with `go generate ./processors/detectors/injection`.
//
// # Measured quality
//
// `go test ./processors/detectors/injection -run 'TestQuality|TestHeldOut' -v`:
//
//	5-fold CV ROC-AUC on prompt_injection.dev.jsonl (829 rows): 0.9978
//	held-out ordinary prompts (testdata/benign_heldout.txt, 35, never
//	  trained on): scores 0.09–0.21, median 0.16, all below 0.5
//	held-out jailbreaks (testdata/attack_heldout.txt, 15): scores
//	  0.71–1.00, median 0.93, all at or above 0.5
//
// The held-out sets were written by the same author as the cue lists and
// augmentation, so they measure generalization to rewording, not to attack
// styles nobody anticipated; the 10% prior was chosen with these sets in
// view. Many dev-set "injections" are ordinary questions that are attacks only
// given their system prompt (e.g. asking for a user's initials); a detector
// that sees only the prompt text cannot know that, and such prompts score low.
//
// # Cost
//
// `go test ./processors/detectors/injection -run XXX -bench . -benchtime 20000x` on a
// shared 2-core AMD EPYC VM: BenchmarkInjection (500 B prompt) 3.6 µs/event,
// 0 allocs/op; an attack with evidence 5.5 µs and 4 allocs/op.
package injection

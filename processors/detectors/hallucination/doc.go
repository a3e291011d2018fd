// Package hallucination scores, per event, the risk that a completion states
// content that the retrieved context or the reference answer does not
// support, the supported fraction of the completion ("grounding") and the
// unsupported spans as evidence.
//
// It must never: score an event that has neither context nor reference
// (the scores stay invalid: there is nothing to check against), use the
// length of the answer as a feature (long correct answers must score low),
// panic on any input, retain the event's strings, or log event content.
//
// Method: lexical support with normalization (textnorm: case, punctuation,
// "1,000" = "1000", "three" = "3", light stemming, stopwords dropped).
// Content tokens of the completion that occur in the question are echoes and
// are left out of the risk; the others are supported or not by the evidence,
// weighted (numbers 2, names 1.5, short fragments 0.5, words 1). The risk is
// the unsupported weighted share of the new content, raised by the share of
// adjacent known words the evidence never puts together (recombined
// entities such as "Panama City Air Force Base"); see Detector.Score for the
// formula. Framing words ("the answer is", "according to the passage") are
// neutral. This is a cheap first-line signal; deep checks (NLI, an LLM
// judge) belong in `sightline reeval`.
//
// Measured on hallucination_qa.dev.jsonl (HaluEval QA, 392 pairs; the two
// constants pairWeight and echoRisk were set on this file, everything else is
// generic), with
//
//	go test ./processors/detectors/hallucination -run TestQuality -v
//
// ROC-AUC 0.977 overall; 0.923 on the 39 length-matched pairs (the two
// answers' whitespace-token counts within a ratio of 0.67–1.5); the
// hallucinated answer scores higher in 95.7% of pairs. Correct answers
// rebuilt as long answers (a preamble plus the knowledge sentence holding the
// answer) score a mean risk of 0.002 and ROC-AUC 0.984 against the
// hallucinated ones. On TruthfulQA (answers checked against the other correct
// answers as reference) ROC-AUC is only 0.593: its wrong answers reuse the
// right answers' words (negations, near-paraphrases), which lexical support
// cannot see.
//
// Performance: go test ./processors/detectors/hallucination -run XXX -bench . -benchmem
// -cpu 1 -count 5 (about 1 KB prompt+completion, 2 KB context): 7.5–7.7 µs,
// 280 B in 9 allocs (the returned spans) on a shared, loaded 2-core machine
// (was 10.0–10.2 µs in the same interleaved run before the SWAR word scanner
// of textnorm), about two thirds of it the Content tokenizer.
package hallucination

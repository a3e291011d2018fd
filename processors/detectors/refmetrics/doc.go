// Package refmetrics computes reference-based metrics of a completion when
// the event carries a reference answer: ROUGE-L F1 (LCS based, Lin 2004),
// sentence BLEU with Chen & Cherry (2014) smoothing method 1 (NLTK's
// SmoothingFunction().method1, epsilon 0.1), and SQuAD token F1 and exact
// match (SQuAD normalization: lower case, punctuation and the articles a, an,
// the removed, white space split).
//
// It must never: score an event without a (non-blank) reference, panic on
// any input, or log event content.
//
// ROUGE-L and BLEU tokenize with textnorm.Plain (lower case, split on every
// non-alphanumeric character), the LCS is bit-parallel (Hyyrö 2004), n-grams
// are keys of packed symbol ids counted in one pooled open-addressing table,
// and each text is tokenized once (the SQuAD tokens reuse the Plain token
// hashes where a word is one token).
//
// Expected values in the tests come from testdata/reference_values.py (NLTK
// 3.8 sentence_bleu; a textbook LCS program; the SQuAD 2.0 script's
// definitions), tolerance 1e-9:
//
//	go test ./processors/detectors/refmetrics -v
//	go test ./processors/detectors/refmetrics -run XXX -bench RefMetrics -benchmem -cpu 1 -count 3
//
// gives 3.55–3.67 µs, 0 allocs on the shared 2-core machine (was 8.7–10.2
// µs before single-pass tokenizing, 4.1–5.9 µs before the faster shared
// tokenizer).
package refmetrics

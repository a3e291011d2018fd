// Package toxicity scores how toxic a text is, in [0,1], for the prompt and
// the completion of every event, and names the terms that drove a toxic
// completion's score.
//
// It must never log or retain event text, never panic on any input (invalid
// UTF-8, huge strings), and never cite a term containing digits as evidence,
// so numbers such as phone or account numbers cannot reach the scores.
//
// # Model
//
// Logistic regression over 2^18 hashed features of the normalized text
// (hashing.Normalize: lowercase, URLs, @mentions, HTML entities and "RT"
// removed, elongations cut): word unigrams, word bigrams and character 3- to
// 5-grams inside each word. Feature values are counts scaled by 1/sqrt(n) so
// long and short texts are comparable. Training minimizes the weighted mean
// log-loss plus an L2 penalty (λ=1e-5) with L-BFGS from zero; rows of each
// source are weighted by (nMax/n_source)^0.7 so the small ToxiGen set of
// implicit statements and the hand-written lines are not drowned by the
// tweets, then the two classes are scaled to equal total weight and the bias
// is shifted by logit(0.2) (TrainConfig.Prior), so a text with no evidence
// either way scores near 0.2 or below rather than near the 83% toxic share of
// the tweets. There is no randomness: equal data give equal model bytes.
// Weights ship quantized to int16 in model.bin.gz (about 270 KB), embedded
// and loaded by Default.
//
// # LLM text
//
// The dev data is tweets and short statements about groups; on its own it
// taught the model that "sorry", "cannot" and "but i" are toxic (a refusal
// scored 0.565). Every training run therefore adds Augmentation():
// augment_benign.txt (ordinary assistant and user text: refusals, apologies,
// code, summaries, support replies, RAG answers, questions, jailbreak-style
// prompts, neutral mentions of groups) and augment_toxic.txt (insults,
// threats, slurs and hateful generalizations written as an assistant would
// write them). Both are hand-written for this project and never scored in
// cross-validation. testdata/ holds separately written held-out lines that
// are never trained on; with the shipped model
//
//	benign held-out (99 lines): median 0.020, max 0.288
//	toxic held-out (25 lines): median 0.584, 15 of 25 >= 0.5, 20 >= 0.3
//	held-out ROC-AUC 0.9887
//
// from `go test ./processors/detectors/toxicity -run TestHeldOut -v`. The test fails if
// a benign line reaches 0.3, the benign median 0.15, or half the toxic lines
// stay below 0.5. Short insults without profanity and threats without the
// tweets' vocabulary are the weakest part (0.03–0.3).
//
// Retrain the shipped model with
//
//	go generate ./processors/detectors/toxicity
//
// which runs TrainFile on ../shared/data/toxicity.dev.jsonl plus
// Augmentation() (the same function `sightline train toxicity --data FILE
// --out FILE` calls); TestTrainDeterministic checks that training is
// repeatable byte for byte.
//
// # Measured quality
//
// 5-fold cross-validation (folds stratified by source and label, seed 1) on
// toxicity.dev.jsonl (20,179 rows: Davidson tweets and ToxiGen seed
// statements), same training code and settings as the shipped model, the
// hand-written rows in every training fold:
//
//	ROC-AUC overall 0.9792, ToxiGen rows 0.9226, Davidson rows 0.9801
//
// from `go test ./processors/detectors/toxicity -run TestQuality -v` (about 20 s).
// Without the hand-written rows, source weight 0.5 and no prior shift the
// figures were 0.9813 / 0.9329 / 0.9821: the benign assistant prose costs
// about a point of ToxiGen AUC.
// The test fails below 0.975 overall or 0.90 on ToxiGen. These rows are
// from the same two sources as the training data; on other domains (e.g.
// LLM completions) expect lower figures. Davidson labels offensive language
// (slurs, profanity) as toxic, so the model does too.
//
// # Cost
//
// `go test ./processors/detectors/toxicity -run XXX -bench . -benchtime 20000x` on a
// shared 2-core AMD EPYC VM: BenchmarkToxicity (about 500 B prompt and 520 B
// completion) 7.5–8.1 µs/event, 0 allocs/op; with evidence for a toxic
// completion 12.5–13.4 µs and 6 allocs/op (the evidence strings).
package toxicity

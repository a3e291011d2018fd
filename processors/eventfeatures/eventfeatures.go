// Package eventfeatures computes the cheap per-event features every event gets
// in the score stage: sizes, token totals, throughput, flags. It must stay
// allocation-free and never fail.
package eventfeatures

import (
	"unicode/utf8"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Features are the per-event numbers stored beside the event.
type Features struct {
	PromptChars           uint32
	CompletionChars       uint32
	ContextChars          uint32
	PromptMessages        uint16
	CompletionMessages    uint16
	ContextItems          uint16
	TotalTokens           int64
	OutputTokensPerSecond float64
	HasContext            bool
	HasReference          bool
	IsError               bool
}

// Compute returns the features of ev. Character counts are in runes.
func Compute(ev *eventpb.Event) Features {
	var f Features
	for _, m := range ev.GetPrompt() {
		f.PromptChars += uint32(utf8.RuneCountInString(m.GetContent()))
	}
	for _, m := range ev.GetCompletion() {
		f.CompletionChars += uint32(utf8.RuneCountInString(m.GetContent()))
	}
	for _, c := range ev.GetContext() {
		f.ContextChars += uint32(utf8.RuneCountInString(c))
	}
	f.PromptMessages = clamp16(len(ev.GetPrompt()))
	f.CompletionMessages = clamp16(len(ev.GetCompletion()))
	f.ContextItems = clamp16(len(ev.GetContext()))
	f.TotalTokens = ev.GetInputTokens() + ev.GetOutputTokens()
	// Generation throughput: output tokens over the time after the first
	// token when streaming, else over the whole call.
	gen := ev.GetDurationMs()
	if ev.TtftMs != nil && ev.GetTtftMs() < gen {
		gen -= ev.GetTtftMs()
	}
	if gen > 0 && ev.GetOutputTokens() > 0 {
		f.OutputTokensPerSecond = float64(ev.GetOutputTokens()) / (gen / 1000)
	}
	f.HasContext = len(ev.GetContext()) > 0
	f.HasReference = ev.GetReference() != ""
	f.IsError = ev.GetError() != nil && (ev.GetError().GetType() != "" || ev.GetError().GetMessage() != "")
	return f
}

func clamp16(n int) uint16 {
	if n > 0xffff {
		return 0xffff
	}
	return uint16(n)
}

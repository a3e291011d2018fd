// Package sdk is Sightline's Go SDK: it records one event per LLM call and
// produces it to Kafka in the background.
//
// The SDK must never slow down or break the application it instruments:
// Record copies the call into a bounded queue and returns at once; when the
// queue is full the call is dropped and counted (Stats). Encoding,
// redaction, truncation and producing happen on the client's own goroutine.
// Close(ctx) flushes what is queued and, bounded by ctx, accounts for every
// recorded call in Stats before it returns. Nothing in this package logs
// event content.
//
// Three ways to record:
//
//   - Client.Start / Hook.Finish around any LLM call;
//   - Transport, an http.RoundTripper that instruments any OpenAI-compatible
//     client (chat completions) and Anthropic Messages clients such as
//     github.com/anthropics/anthropic-sdk-go (option.WithHTTPClient), plain
//     JSON and SSE streaming;
//   - sdk/openaisdk, a middleware for github.com/openai/openai-go.
package sdk

// Package openaisdk instruments the official Go client
// github.com/openai/openai-go with Sightline through its middleware option:
//
//	oa := openai.NewClient(option.WithMiddleware(openaisdk.Middleware(client)))
//
// Chat completions (plain and streaming) are recorded; every other request
// passes through untouched. It lives beside the SDK core so that the core
// does not depend on openai-go.
package openaisdk

import (
	"context"
	"net/http"

	"github.com/openai/openai-go/v3/option"

	"github.com/sightline-dev/sightline/sdk"
)

// Middleware returns an openai-go middleware that records chat completion
// calls with client.
func Middleware(client *sdk.Client) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		return client.RoundTrip(req, next)
	}
}

// WithRequest attaches what the HTTP exchange cannot show (RAG context,
// reference, variant, segments) to the context of one call:
//
//	ctx = openaisdk.WithRequest(ctx, sdk.Request{Context: docs, Variant: "v2"})
//	oa.Chat.Completions.New(ctx, params)
func WithRequest(ctx context.Context, r sdk.Request) context.Context {
	return sdk.WithRequest(ctx, r)
}

package distribution

import (
	"bytes"
	"context"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
)

// The OTLP receiver (otlpreceiver v0.165.0, otlphttp.go) answers a body
// that does not unmarshal with 400 and the parser's message in a
// google.rpc.Status. That message quotes the body around the error, cut
// at byte offsets: when the body is not UTF-8, or a cut falls inside a
// multi-byte character, the Status cannot be encoded and the receiver
// sends its fallback instead, a 500 with the body below. A 500 tells the
// sender to retry a request that can never succeed. The badrequest
// extension, an HTTP middleware on the receiver, turns that fallback back
// into the 400 it stands for; nothing else passes through it changed.
//
// The fix belongs upstream (the receiver could make the message valid
// UTF-8); TestBadJSONIs400 fails when an upgrade changes the fallback.
var (
	receiverFallback = []byte(`{"code": 13, "message": "failed to marshal error message"}`)
	badRequestBody   = []byte(`{"code":3,"message":"the body is not valid OTLP (the parser's error quotes bytes that are not UTF-8)"}`)
)

var badRequestType = component.MustNewType("badrequest")

func newBadRequestFactory() extension.Factory {
	return extension.NewFactory(badRequestType,
		func() component.Config { return &struct{}{} },
		func(context.Context, extension.Settings, component.Config) (extension.Extension, error) {
			return badRequest{}, nil
		},
		component.StabilityLevelStable)
}

type badRequest struct{}

var _ extensionmiddleware.HTTPServer = badRequest{}

func (badRequest) Start(context.Context, component.Host) error { return nil }
func (badRequest) Shutdown(context.Context) error              { return nil }

func (badRequest) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return fixFallback(next), nil
	}, nil
}

// fixFallback answers 400 where next answers the receiver's fallback 500.
func fixFallback(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fw := &fallbackWriter{ResponseWriter: w}
		next.ServeHTTP(fw, r)
		if fw.held {
			// A 500 with no body: not the fallback.
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
}

// fallbackWriter holds back a 500 until the body shows whether it is the
// receiver's fallback.
type fallbackWriter struct {
	http.ResponseWriter
	held bool // a 500 is waiting for its body
}

func (f *fallbackWriter) WriteHeader(code int) {
	if code == http.StatusInternalServerError {
		f.held = true
		return
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if !f.held {
		return f.ResponseWriter.Write(b)
	}
	f.held = false
	if bytes.Equal(b, receiverFallback) {
		f.ResponseWriter.WriteHeader(http.StatusBadRequest)
		if _, err := f.ResponseWriter.Write(badRequestBody); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	f.ResponseWriter.WriteHeader(http.StatusInternalServerError)
	return f.ResponseWriter.Write(b)
}

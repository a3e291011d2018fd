package sdk_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/sdk"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

// With a redactor, an e-mail address is redacted wherever it is recorded:
// content, user and conversation ids, segment and attribute values. Opaque
// ids and values stay usable for grouping. Without one, nothing changes.
func TestRedactionCoversEveryField(t *testing.T) {
	const email = "jane.doe@example.com"
	pii, err := sdk.RedactPII("email")
	testenv.Must(t, err, "redactor")
	for _, tc := range []struct {
		name string
		r    sdk.Redactor
	}{{"none", nil}, {"RedactPII", pii}, {"SimplePII", sdk.SimplePII()}} {
		t.Run(tc.name, func(t *testing.T) {
			b := testenv.Broker(t, "")
			var opts []sdk.Opt
			if tc.r != nil {
				opts = append(opts, sdk.WithRedactor(tc.r))
			}
			c := newClient(t, b.Addrs(), opts...)
			segments := map[string]string{"user.email": email, "user.locale": "fr-FR"}
			attrs := map[string]string{"customer": "mail " + email, "feature": "faq"}
			h := c.Start(sdk.Request{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: "I am " + email}},
				UserID: email, ConversationID: "support:" + email, Segments: segments, Attributes: attrs,
				Context: []string{"owner " + email}, Reference: "ask " + email})
			h.Finish(sdk.Response{Completion: []sdk.Message{{Role: "assistant", Content: "Hello " + email}}})
			opaque := c.Start(sdk.Request{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: "opaque"}},
				UserID: "u-1842", ConversationID: "0190c8e4-5a2b-7c3d-8e4f-0123456789ab",
				Segments: map[string]string{"user.tier": "gold"}, Attributes: map[string]string{"order": "A-20240917-1"}})
			opaque.Finish(sdk.Response{})
			testenv.Must(t, c.Close(context.Background()), "close")
			if segments["user.email"] != email || attrs["customer"] != "mail "+email {
				t.Fatal("redaction changed the application's maps")
			}

			var ev, op *eventpb.Event
			for _, e := range sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 2, 10*time.Second) {
				if e.GetPrompt()[0].GetContent() == "opaque" {
					op = e
				} else {
					ev = e
				}
			}
			if ev == nil || op == nil {
				t.Fatal("want both events")
			}
			red := func(s string) string { return s }
			if tc.r != nil {
				red = func(s string) string { return strings.ReplaceAll(s, email, "[REDACTED:email]") }
			}
			for _, f := range []struct{ field, got, want string }{
				{"prompt", ev.GetPrompt()[0].GetContent(), red("I am " + email)},
				{"completion", ev.GetCompletion()[0].GetContent(), red("Hello " + email)},
				{"context", ev.GetContext()[0], red("owner " + email)},
				{"reference", ev.GetReference(), red("ask " + email)},
				{"user_id", ev.GetUserId(), red(email)},
				{"conversation_id", ev.GetConversationId(), red("support:" + email)},
				{"segments[user.email]", ev.GetSegments()["user.email"], red(email)},
				{"segments[user.locale]", ev.GetSegments()["user.locale"], "fr-FR"},
				{"attributes[customer]", ev.GetAttributes()["customer"], red("mail " + email)},
				{"attributes[feature]", ev.GetAttributes()["feature"], "faq"},
				{"opaque user_id", op.GetUserId(), "u-1842"},
				{"opaque conversation_id", op.GetConversationId(), "0190c8e4-5a2b-7c3d-8e4f-0123456789ab"},
				{"opaque segment", op.GetSegments()["user.tier"], "gold"},
				{"opaque attribute", op.GetAttributes()["order"], "A-20240917-1"},
			} {
				if f.got != f.want {
					t.Errorf("%s = %q, want %q", f.field, f.got, f.want)
				}
			}
			if all := protojson.Format(ev); tc.r != nil && strings.Contains(all, "jane.doe") {
				t.Fatalf("the address left the process: %s", all)
			}
		})
	}
}

// The redactors leave opaque identifiers of common shapes as they are, so
// they still group one user's or conversation's calls.
func TestRedactorsKeepOpaqueIDs(t *testing.T) {
	all, err := sdk.RedactPII()
	testenv.Must(t, err, "redactor")
	ids := []string{"u-1842", "1842", "user_9f3a2c", "0190c8e4-5a2b-7c3d-8e4f-0123456789ab",
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "conv-123", "cus_NffrFeUfNV2Hib", "2024-09-17-0042"}
	for name, r := range map[string]sdk.Redactor{"RedactPII": all, "SimplePII": sdk.SimplePII()} {
		for _, id := range ids {
			ev := &eventpb.Event{UserId: id, ConversationId: id,
				Segments: map[string]string{"k": id}, Attributes: map[string]string{"k": id}}
			want := maps.Clone(ev.Segments)
			r.Redact(ev)
			if ev.GetUserId() != id || ev.GetConversationId() != id || !maps.Equal(ev.Segments, want) || !maps.Equal(ev.Attributes, want) {
				t.Errorf("%s changed opaque id %q: %v", name, id, ev)
			}
		}
	}
}

package sdk

import (
	"fmt"
	"regexp"

	"github.com/sightline-dev/sightline/processors/detectors/pii"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Redactor rewrites an event before it leaves the process. It runs on the
// client's goroutine, never the application's.
type Redactor interface {
	Redact(ev *eventpb.Event)
}

// RedactorFunc adapts a function to Redactor.
type RedactorFunc func(ev *eventpb.Event)

// Redact calls f.
func (f RedactorFunc) Redact(ev *eventpb.Event) { f(ev) }

// TextRedactor applies a string rewrite to every free-text field of an
// event: prompt and completion messages, context, reference, error message,
// the values of segments and attributes (their keys are names chosen by the
// application and stay as they are), the user id and the conversation id.
// The function must return its argument unchanged when it has nothing to
// redact: identifiers then pass through as they are, so an opaque user id
// ("u-1842", a UUID) still groups one user's calls, while one that is
// personal data (an e-mail address) is redacted like any other text.
type TextRedactor func(string) string

// Redact rewrites every free-text field.
func (f TextRedactor) Redact(ev *eventpb.Event) {
	for _, m := range ev.Prompt {
		m.Content = f(m.Content)
	}
	for _, m := range ev.Completion {
		m.Content = f(m.Content)
	}
	for i := range ev.Context {
		ev.Context[i] = f(ev.Context[i])
	}
	ev.Reference = f(ev.Reference)
	if ev.Error != nil {
		ev.Error.Message = f(ev.Error.Message)
	}
	ev.UserId = f(ev.UserId)
	ev.ConversationId = f(ev.ConversationId)
	f.values(ev.Segments)
	f.values(ev.Attributes)
}

// values rewrites the values of m in place (the event's own copy, never
// the application's map), writing only those that change.
func (f TextRedactor) values(m map[string]string) {
	for k, v := range m {
		if r := f(v); r != v {
			m[k] = r
		}
	}
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	cardRE  = regexp.MustCompile(`\b(?:\d[ \-]?){12,18}\d\b`)
	phoneRE = regexp.MustCompile(`(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\d{2,4}[ .\-])\d{3,4}[ .\-]?\d{3,4}\b`)
)

// RedactPII returns a redactor backed by the same scanners as the pii
// detector of the score stage: each value of the named kinds (all kinds when
// none are named: email, phone, credit_card, us_ssn, iban, ipv4, ipv6,
// api_key, jwt, private_key) is replaced by [REDACTED:kind] in every
// free-text field (see TextRedactor: content, segment and attribute values,
// user and conversation ids) before the event leaves the process. Unknown
// kind names are an error.
func RedactPII(kinds ...string) (Redactor, error) {
	set := pii.AllKinds
	if len(kinds) > 0 {
		var err error
		if set, err = pii.ParseKinds(kinds); err != nil {
			return nil, fmt.Errorf("sightline sdk: %w", err)
		}
	}
	return TextRedactor(func(s string) string {
		if s == "" {
			return s
		}
		r, _ := pii.Redact(s, set)
		return r
	}), nil
}

// SimplePII returns a small regular-expression redactor for e-mail
// addresses, Luhn-valid payment card numbers and phone numbers, replaced by
// [REDACTED:kind]. RedactPII covers more kinds with validated scanners and
// is what most applications want.
func SimplePII() Redactor {
	return TextRedactor(func(s string) string {
		if s == "" {
			return s
		}
		s = emailRE.ReplaceAllLiteralString(s, "[REDACTED:email]")
		s = cardRE.ReplaceAllStringFunc(s, func(m string) string {
			if luhn(m) {
				return "[REDACTED:card]"
			}
			return m
		})
		return phoneRE.ReplaceAllLiteralString(s, "[REDACTED:phone]")
	})
}

func luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
		n++
	}
	return n >= 13 && sum%10 == 0
}
